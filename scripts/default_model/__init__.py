"""Building blocks of the embedded default model: corpus, BPE tokenizer, Llama model, GGUF."""
