"""Writes the tokenizer.json golden data: Hugging Face `tokenizers`' ids for the 413 varied strings of hf/strings.json.

For each fixture it builds a tokenizer.json (as the Hugging Face converters lay them out) from one
of our test vocabularies, lets `tokenizers` load it, and records in hf/<name>/golden.json, for each
string of hf/strings.json: the ids without special tokens added (special tokens in the text
matched, as `encode` does by default), the ids with `encode_special_tokens` (special tokens in the
text split like text), the ids with the post-processor's special tokens added, and the text
`decode` gives back (special tokens kept).

  hf/llama3/   byte-level BPE, Llama-3's Split regex, ignore_merges, TemplateProcessing BOS,
               a non-special added token and one with lstrip/rstrip; merges as pairs;
               tokenizer_config.json with bos/eos and a chat template
  hf/qwen2/    byte-level BPE, Qwen2's Split regex, NFC normalizer; merges as "a b" strings
  hf/gpt2/     byte-level BPE, ByteLevel(use_regex) pre-tokenizer
  hf/smollm/   byte-level BPE, Digits(individual) + ByteLevel(use_regex) (SmolLM2's layout)
  hf/llama2/   SentencePiece-style BPE (byte_fallback, fuse_unk), Prepend+Replace normalizer,
               decoder Replace/ByteFallback/Fuse/Strip, TemplateProcessing BOS (Llama-2's layout),
               added tokens matched normalized (<unk>, the user-defined <|user|>) and not (<s>, </s>)
  hf/mistral/  the same vocabulary with a Metaspace pre-tokenizer (prepend_scheme "first", split)

The byte-level vocabulary is bpe-vocab.gguf's (SmolLM2's first 4000 tokens plus number and
whole-word tokens), the SentencePiece one spm-vocab.gguf's, with merges derived from its scores
the way the Hugging Face Llama converter does. The strings are those of smollm2-tokenizer.json
(llama.cpp's golden file) plus a few that exercise added tokens.

Run by hand after changing this script (needs `pip install tokenizers`, no model hub):
    python3 native/tests/golden/gen-hf-tokenizer-golden.py
"""

import json
import struct
from pathlib import Path

from tokenizers import Tokenizer, __version__ as tokenizers_version

GOLDEN_DIR = Path(__file__).resolve().parent

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
               r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

EXTRA_STRINGS = [
    "call <tool> now", "<tool><tool>", "x<tool>y", "a   [NOTE]   b", "[NOTE]", "  [NOTE]", "[NOTE]\n\nz",
    "<|user|> hi", "hi <|user|>", "<s>", "</s> end", "<s> Hello</s>", "<unk>", " <s>x", "<s><s>",
    "▁already▁marked", "▁", " ▁ ", "tab\t▁", "Über café naïve", "e\u0301\u0301", "\u212b \u1e9b\u0323",
    "\uac00\u11a8 \u1100\u1161\u11a8", "\u0958 \ufb2a", "\u00c5\u0328",
]


def read_gguf_metadata(path):
    """The key/value section of a GGUF file (tensors are not needed here)."""
    data = path.read_bytes()
    pos = 0

    def take(fmt):
        nonlocal pos
        value = struct.unpack_from("<" + fmt, data, pos)[0]
        pos += struct.calcsize("<" + fmt)
        return value

    def take_string():
        nonlocal pos
        n = take("Q")
        text = data[pos:pos + n].decode("utf-8")
        pos += n
        return text

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def take_value(kind):
        if kind == 8:
            return take_string()
        if kind == 9:
            element = take("I")
            return [take_value(element) for _ in range(take("Q"))]
        return take(scalar[kind])

    if data[:4] != b"GGUF":
        raise SystemExit(f"{path} is not a GGUF file")
    pos = 4
    take("I")
    take("Q")
    metadata = {}
    for _ in range(take("Q")):
        key = take_string()
        metadata[key] = take_value(take("I"))
    return metadata


def added_token(token_id, content, special, lstrip=False, rstrip=False, normalized=False):
    return {"id": token_id, "content": content, "single_word": False, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": normalized, "special": special}


def bos_template(bos, bos_id):
    return {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}}}


def byte_level(use_regex):
    return {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": use_regex}


def split_regex(pattern):
    return {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False}


def byte_level_fixtures():
    meta = read_gguf_metadata(GOLDEN_DIR / "bpe-vocab.gguf")
    tokens, types = meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.token_type"]
    vocab = {token: i for i, token in enumerate(tokens)}
    merges = meta["tokenizer.ggml.merges"]
    specials = [added_token(i, t, True) for i, t in enumerate(tokens) if types[i] == 3]
    extra = [added_token(len(tokens), "<tool>", False), added_token(len(tokens) + 1, "[NOTE]", False, True, True)]
    extended = dict(vocab, **{a["content"]: a["id"] for a in extra})

    def fixture(pre_tokenizer, normalizer=None, post=None, added=specials, ignore_merges=False,
                merge_pairs=False, model_vocab=vocab):
        return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
                "normalizer": normalizer, "pre_tokenizer": pre_tokenizer,
                "post_processor": post, "decoder": {"type": "ByteLevel", "add_prefix_space": True,
                                                    "trim_offsets": True, "use_regex": True},
                "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                          "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                          "ignore_merges": ignore_merges, "vocab": model_vocab,
                          "merges": [m.split(" ") for m in merges] if merge_pairs else merges}}

    llama3 = fixture({"type": "Sequence", "pretokenizers": [split_regex(LLAMA3_REGEX), byte_level(False)]},
                     post={"type": "Sequence", "processors": [
                         {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
                         bos_template("<|im_start|>", 1)]},
                     added=specials + extra, ignore_merges=True, merge_pairs=True, model_vocab=extended)
    llama3_config = {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "add_bos_token": True,
                     "chat_template": "{% for message in messages %}{{'<|start_header_id|>' + message['role'] + "
                                      "'<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>'}}{% endfor %}"}
    return {
        "llama3": (llama3, llama3_config),
        "qwen2": (fixture({"type": "Sequence", "pretokenizers": [split_regex(QWEN2_REGEX), byte_level(False)]},
                          normalizer={"type": "NFC"}), None),
        "gpt2": (fixture(byte_level(True)), None),
        "smollm": (fixture({"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True}, byte_level(True)]}), None),
    }


def sentencepiece_merges(vocab, scores, mergeable):
    """Merges of every pair of pieces that forms a piece, best-scoring result first, as the Hugging
    Face Llama converter orders them."""
    found = []
    for piece, piece_id in vocab.items():
        if not mergeable[piece_id]:
            continue
        pairs = [(piece[:k], piece[k:]) for k in range(1, len(piece))]
        pairs = [p for p in pairs if p[0] in vocab and p[1] in vocab and mergeable[vocab[p[0]]] and mergeable[vocab[p[1]]]]
        pairs.sort(key=lambda p: (vocab[p[0]], vocab[p[1]]))
        found.extend((left, right, scores[piece_id]) for left, right in pairs)
    found.sort(key=lambda m: m[2], reverse=True)
    return [[left, right] for left, right, _ in found]


def sentencepiece_fixtures():
    meta = read_gguf_metadata(GOLDEN_DIR / "spm-vocab.gguf")
    tokens, types, scores = (meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.token_type"],
                             meta["tokenizer.ggml.scores"])
    vocab = {token: i for i, token in enumerate(tokens)}
    merges = sentencepiece_merges(vocab, scores, [t == 1 for t in types])
    # Control and unknown tokens are special added tokens, user-defined ones plain added tokens;
    # Llama-2's are matched in the normalized text (so "▁<s>" takes the space before it).
    added = [added_token(i, t, types[i] in (2, 3), normalized=types[i] != 3) for i, t in enumerate(tokens)
             if types[i] in (2, 3, 4)]
    model = {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
             "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
             "vocab": vocab, "merges": merges}
    llama2 = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
              "normalizer": {"type": "Sequence", "normalizers": [
                  {"type": "Prepend", "prepend": "▁"},
                  {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
              "pre_tokenizer": None, "post_processor": bos_template("<s>", 1),
              "decoder": {"type": "Sequence", "decoders": [
                  {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                  {"type": "ByteFallback"}, {"type": "Fuse"},
                  {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
              "model": model}
    metaspace = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": True}
    mistral = dict(llama2, normalizer=None, pre_tokenizer=metaspace)
    return {"llama2": (llama2, None), "mistral": (mistral, None)}


def golden_cases(tokenizer, texts):
    """One case per string, in the order of strings.json; to keep the files small a field that
    equals "ids" (or "decoded" that equals the string) is left out."""
    cases = []
    for text in texts:
        tokenizer.encode_special_tokens = False
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        case = {"ids": ids}
        with_special = tokenizer.encode(text, add_special_tokens=True).ids
        if with_special != ids:
            case["ids_add_special"] = with_special
        tokenizer.encode_special_tokens = True
        split_special = tokenizer.encode(text, add_special_tokens=False).ids
        if split_special != ids:
            case["ids_split_special"] = split_special
        decoded = tokenizer.decode(ids, skip_special_tokens=False)
        if decoded != text:
            case["decoded"] = decoded
        cases.append(case)
    return cases


def main():
    llama_cpp_golden = json.loads((GOLDEN_DIR / "smollm2-tokenizer.json").read_text(encoding="utf-8"))
    texts = list(dict.fromkeys([c["text"] for c in llama_cpp_golden["cases"]] + EXTRA_STRINGS))
    (GOLDEN_DIR / "hf" / "strings.json").write_text(json.dumps(texts, ensure_ascii=False, indent=0) + "\n",
                                                    encoding="utf-8")
    for name, (tokenizer_json, config) in {**byte_level_fixtures(), **sentencepiece_fixtures()}.items():
        out = GOLDEN_DIR / "hf" / name
        out.mkdir(parents=True, exist_ok=True)
        text = json.dumps(tokenizer_json, ensure_ascii=False, separators=(",", ":"))
        (out / "tokenizer.json").write_text(text + "\n", encoding="utf-8")
        if config is not None:
            (out / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False, indent=1) + "\n",
                                                       encoding="utf-8")
        cases = golden_cases(Tokenizer.from_str(text), texts)
        golden = {"reference": f"tokenizers {tokenizers_version}", "cases": cases}
        (out / "golden.json").write_text(json.dumps(golden, ensure_ascii=False, separators=(",", ":")) + "\n",
                                         encoding="utf-8")
        print(f"{name}: {len(cases)} strings")


if __name__ == "__main__":
    main()
