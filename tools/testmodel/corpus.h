// A short piece of plain English, written for this tool, from which the synthetic
// vocabularies take their words (SentencePiece pieces) and merges (byte-level BPE).
#pragma once

namespace mlxs::testmodel {

const char* english_corpus();

}  // namespace mlxs::testmodel
