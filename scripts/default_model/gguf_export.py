"""Writes the trained model and its tokenizer as a GGUF file the serving engine loads."""
import numpy as np

from . import corpus
from . import gguf_writer as gw

# The usual ChatML template (as Qwen and others ship it), without a default system prompt.
CHAT_TEMPLATE = (
  "{% for message in messages %}"
  "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
  "{% endfor %}"
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

TOKEN_NORMAL, TOKEN_CONTROL = 1, 3
FILE_TYPES = {gw.F32: 0, gw.F16: 1, gw.Q8_0: 7}  # llama.cpp's general.file_type values


def tensors(model):
  """(GGUF name, torch array, is_matrix) in the order llama.cpp writes them."""
  sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
  yield "token_embd.weight", sd["tok_embd.weight"], True
  for i in range(model.cfg.n_layer):
    p = f"blocks.{i}."
    g = f"blk.{i}."
    yield g + "attn_norm.weight", sd[p + "attn_norm.weight"], False
    yield g + "attn_q.weight", sd[p + "wq.weight"], True
    yield g + "attn_k.weight", sd[p + "wk.weight"], True
    yield g + "attn_v.weight", sd[p + "wv.weight"], True
    yield g + "attn_output.weight", sd[p + "wo.weight"], True
    yield g + "ffn_norm.weight", sd[p + "ffn_norm.weight"], False
    yield g + "ffn_gate.weight", sd[p + "w_gate.weight"], True
    yield g + "ffn_up.weight", sd[p + "w_up.weight"], True
    yield g + "ffn_down.weight", sd[p + "w_down.weight"], True
  yield "output_norm.weight", sd["out_norm.weight"], False


def write_model(path, model, tok, matrix_type=gw.Q8_0):
  c = model.cfg
  w = gw.Writer()
  w.add("general.architecture", "llama")
  w.add("general.name", "mlx-serving default (fortunes)")
  w.add("general.file_type", gw.UInt32(FILE_TYPES[matrix_type]))
  w.add("general.description",
        "A small Llama model trained on the fortune cookies of Debian's fortunes package "
        "by scripts/train_default_model.py")
  w.add("llama.context_length", gw.UInt32(c.ctx))
  w.add("llama.embedding_length", gw.UInt32(c.dim))
  w.add("llama.block_count", gw.UInt32(c.n_layer))
  w.add("llama.feed_forward_length", gw.UInt32(c.ffn_dim))
  w.add("llama.attention.head_count", gw.UInt32(c.n_head))
  w.add("llama.attention.head_count_kv", gw.UInt32(c.n_head_kv))
  w.add("llama.attention.layer_norm_rms_epsilon", float(c.rms_eps))
  w.add("llama.rope.freq_base", float(c.rope_base))
  w.add("llama.rope.dimension_count", gw.UInt32(c.head_dim))
  w.add("llama.vocab_size", gw.UInt32(c.vocab_size))

  ids = tok.special_ids
  w.add("tokenizer.ggml.model", "gpt2")
  w.add("tokenizer.ggml.pre", "gpt2")
  w.add("tokenizer.ggml.tokens", list(tok.tokens))
  w.add("tokenizer.ggml.token_type",
        [gw.Int32(TOKEN_CONTROL if t in ids else TOKEN_NORMAL) for t in tok.tokens])
  w.add("tokenizer.ggml.merges", [f"{a} {b}" for a, b in tok.merges])
  # <|endoftext|> starts and separates documents; <|im_end|> ends a chat turn. Both stop
  # generation (the engine treats every control end marker as end-of-generation).
  w.add("tokenizer.ggml.bos_token_id", gw.UInt32(ids[corpus.ENDOFTEXT]))
  w.add("tokenizer.ggml.eos_token_id", gw.UInt32(ids[corpus.IM_END]))
  w.add("tokenizer.ggml.eot_token_id", gw.UInt32(ids[corpus.IM_END]))
  w.add("tokenizer.ggml.padding_token_id", gw.UInt32(ids[corpus.ENDOFTEXT]))
  w.add("tokenizer.ggml.add_bos_token", True)
  w.add("tokenizer.ggml.add_eos_token", False)
  w.add("tokenizer.chat_template", CHAT_TEMPLATE)

  for name, array, is_matrix in tensors(model):
    w.add_tensor(name, array, matrix_type if is_matrix else gw.F32)
  w.write(path)


def quantized_copy(model, matrix_type=gw.Q8_0):
  """The model with every matrix replaced by what the GGUF file stores for it."""
  import copy

  import torch
  q = copy.deepcopy(model)
  with torch.no_grad():
    for name, p in q.named_parameters():
      if p.dim() != 2:
        continue
      a = p.detach().numpy()
      if matrix_type == gw.Q8_0:
        a = gw.dequantize_q8_0(a)
      elif matrix_type == gw.F16:
        a = a.astype(np.float16).astype(np.float32)
      elif matrix_type != gw.F32:
        raise ValueError(f"unsupported matrix type {matrix_type}")
      p.copy_(torch.from_numpy(a))
  return q
