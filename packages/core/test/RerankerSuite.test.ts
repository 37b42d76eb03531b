import { OverlapReranker, RerankerSuite } from "../src/testing/index.js"

RerankerSuite("overlap", OverlapReranker.layer())
