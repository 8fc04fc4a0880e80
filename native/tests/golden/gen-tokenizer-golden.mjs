// Writes the tokenizer golden files: (text, parse_special, llama.cpp's ids and the text llama.cpp
// decodes them to, special tokens rendered) for ~450 varied strings,
// tokenized by llama.cpp through node-llama-cpp (the reference), for
//   smollm2-tokenizer.json            the real SmolLM2-135M-Instruct GGUF (pre-tokenizer "smollm");
//   bpe-pre-<pre>-tokenizer.json      bpe-vocab.gguf under the "llama-bpe", "qwen2", "gpt-2" and
//                                     "default" pre-tokenizers: SmolLM2's first 4000 tokens and their
//                                     merges plus 2- and 3-digit number tokens (which tell Llama-3's
//                                     1-3 digit groups from single digits) and whole-word tokens no
//                                     merge reaches (which Llama-3 looks up before merging);
//   spm-tokenizer.json                spm-vocab.gguf, a SentencePiece ("llama") vocabulary derived
//                                     from SmolLM2's (byte tokens, scores, a user-defined token).
// The two vocabulary-only GGUFs are written here and committed as the test's fixtures.
// Rerun after changing the strings:  node native/tests/golden/gen-tokenizer-golden.mjs [model.gguf]
// The strings are hand-written cases plus seeded random mixes of character classes, so the files
// are reproducible; the ids are whatever llama.cpp says.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const modelPath =
  process.argv[2] ?? join(homedir(), ".cache/openledger/models/SmolLM2-135M-Instruct.Q4_1.gguf");
const goldenDir = dirname(fileURLToPath(import.meta.url));

const handWritten = [
  "Hello world", "Hello, world!", " leading space", "trailing space ", "  two leading", "a  b   c    d",
  "\t\ttabs\tand spaces", "line1\nline2\r\nline3\rline4", "\n\n\n", "   \n  \n ", " ", "  ", "\n", "\t",
  "x\u00a0y\u2003z\u3000w", "nbsp\u00a0\u00a0run", "end with newline\n", "end with spaces   ",
  "I'm you're we've they'll she'd it's don't", "I'M YOU'RE WE'VE THEY'LL SHE'D", "'s't're've'm'll'd",
  "rock 'n' roll", "quote'", "''''", "\"double\" 'single' `back`",
  "0", "7", "12", "123", "1234", "12345678901234567890", "3.14159", "-42", "+1e-10", "1,000,000.00",
  "v1.2.3", "0x1F 0b1010 0o777", "2024-01-31T12:34:56Z", "$19.99", "50%", "a1b2c3", "x=1+2*3/4",
  "①②③", "½ ¾ ⅞", "Ⅻ Ⅳ", "٣٤٥ ١٢", "१२३", "²³ x²", "9th 21st 3rd",
  "def fib(n):\n    return n if n < 2 else fib(n-1) + fib(n-2)\n",
  "for (int i = 0; i < n; ++i) { sum += a[i]; }", "#include <stdio.h>\nint main(void) { return 0; }",
  "const x = await fetch(`/api/${id}`);", "SELECT * FROM users WHERE id = 42;", "<div class=\"a\">b</div>",
  "{\"key\": [1, 2, {\"nested\": null}]}", "if (a && b || !c) {}", "x -> y => z :: w", "a != b == c <= d >= e",
  "    indented\n        more\n\tand tab", "// comment\n/* block */", "#!/usr/bin/env bash\nset -euo pipefail",
  "https://example.com/path?q=1&r=two#frag", "user@example.org", "C:\\Windows\\System32", "~/.bashrc",
  "snake_case camelCase PascalCase kebab-case SCREAMING_CASE", "__init__", "...", "!!!???", "—–-",
  "«guillemets» „quotes“ ‘single’ “double”", "¡Hola! ¿Qué tal?", "Ünïcödé àccénts", "Straße", "ﬁ ﬂ ligatures",
  "Ελληνικά γράμματα", "Русский текст, привет!", "Українська мова", "Հայերեն", "ქართული",
  "中文分词测试", "日本語のテキスト、カタカナ、ひらがな。", "한국어 텍스트입니다", "混合 mixed 文本 text",
  "你好，世界！", "【括号】「引号」", "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ１２３",
  "مرحبا بالعالم", "שלום עולם", "עברית with English", "العربية ١٢٣ 456", "فارسی", "اردو",
  "हिन्दी भाषा", "বাংলা", "தமிழ்", "ไทย ภาษา", "ລາວ", "မြန်မာ", "ខ្មែរ", "አማርኛ",
  "e\u0301 combining acute", "a\u0308o\u0308u\u0308", "Z\u0351\u0352\u0353a\u0354l\u0355g\u0356o", "n\u0303",
  "\u0915\u094d\u0937", "\u200bzero\u200bwidth", "\u200d\u200c joiners", "\ufeffBOM", "soft\u00adhyphen",
  "😀", "😀😃😄", "👍🏽", "👨‍👩‍👧‍👦 family", "🇫🇷🇯🇵 flags", "❤️ heart", "emoji😀inside", "a 🎉 b",
  "✓ ✗ ★ ☆ ♠ ♣", "→ ← ↑ ↓ ⇒", "∑ ∫ √ ∞ ≠ ≤ ≥", "∀x∈ℝ: x²≥0", "° ± × ÷", "© ® ™", "€ £ ¥ ₹ ₿",
  "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math", "𝟘𝟙𝟚", "𐍈 gothic", "\u{10FFFF} max", "\u{E000} private",
  "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_start|>user\nHi<|im_end|>\n",
  "text <|im_start|> inside", "<|im_start|><|im_end|>", "<|im_start", "|im_end|>", "<repo_name>x<file_sep>y",
  "The quick brown fox jumps over the lazy dog.", "THE QUICK BROWN FOX", "tHe QuIcK bRoWn",
  "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt.",
  "antidisestablishmentarianism", "pneumonoultramicroscopicsilicovolcanoconiosis", "aaaaaaaaaaaaaaaaaaaaaaaa",
  "abababababababababab", "\u0000null", "\u0001\u0002\u001f control", "\u007f del", "\u0085 nel",
  "mixed\t \n \t\nwhitespace", "a\n\nb\n\n\nc", "trailing\n\n", "  \t  x", "x  \t  ", "1 2 3 4 5",
  "1  2", "a 1", "a  1", "word123word", "123abc", "abc 123 def", " 123", "  456", "\n789", "'123", "'s123",
  "<|user|> hi", "x<|user|>y<|im_start|>z", "I'VE DONE IT, WE'D SAY", "a\r\nb\r\n\r\nc", "x  \n  y", "((()))\n\n",
  "abc123456789def", "12 345 6789 01234", "I said xyzzy and plugh, then quux.", " xyzzy", "xyzzy",
  // Letters new in Unicode 15.0, 15.1 (letters for llama.cpp) and 16.0, 17.0 (not yet): the table's version.
  "a\u{11F04}'s", "a\u{31350}'s", "a\u{2EBF0}'s", "a\u{105C0}'s", "a\u{16D43}'s", "a\u{323B0}'s", "foo!!!\n\nbar", "  \u00a0 x", ";\n;\r\n;",
];

// Seeded random strings (mulberry32) drawn from mixed character classes.
function mulberry32(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pools = [
  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " ", "  \t\n\r", ".,;:!?'\"()[]{}<>/\\|@#$%^&*-_=+~`",
  "éèêëàâäôöûüçñßøåæœ", "αβγδεζηθλμπσω", "абвгдежзийклмнопрст", "的一是不了人我在有他这中大来上", "あいうえおカキクケコ",
  "ابتثجحخدذرزسشصضطظعغ", "אבגדהוזחטיכלמנ", "\u0300\u0301\u0302\u0303\u0308\u0327", "😀🎉👍🔥💯🚀", "①½²٣१", "\u00a0\u2003\u3000",
];
const rand = mulberry32(20261126);
const randomStrings = [];
for (let i = 0; i < 100; i++) {
  const length = 1 + Math.floor(rand() * 40);
  let s = "";
  for (let j = 0; j < length; j++) {
    const pool = Array.from(pools[Math.floor(rand() * pools.length)]);
    s += pool[Math.floor(rand() * pool.length)];
  }
  randomStrings.push(s);
}
// And code points drawn from wide Unicode ranges (every plane in use, unassigned ones included),
// mixed with ASCII, contractions and special-token texts.
const ranges = [
  [0x20, 0x7e], [0x09, 0x0d], [0x80, 0x9f], [0xa0, 0x24f], [0x300, 0x36f], [0x370, 0x52f], [0x590, 0x6ff],
  [0x900, 0xdff], [0x1100, 0x11ff], [0x1e00, 0x1fff], [0x2000, 0x206f], [0x2070, 0x2bff], [0x3000, 0x30ff],
  [0x4e00, 0x4fff], [0xac00, 0xac80], [0xfe00, 0xffef], [0x10000, 0x1ffff], [0x1f300, 0x1faff],
  [0x20000, 0x2ffff], [0xe0000, 0xe007f],
];
const fragments = [" ", "\n", "\t", "'s", "'re", "'LL", "0", "42", "a", "A", ".", "!", "<|im_start|>", "<|im_end|>", "   ", "\r\n"];
for (let i = 0; i < 100; i++) {
  const length = 1 + Math.floor(rand() * 24);
  let s = "";
  for (let j = 0; j < length; j++) {
    if (rand() < 0.35) {
      s += fragments[Math.floor(rand() * fragments.length)];
      continue;
    }
    const [first, last] = ranges[Math.floor(rand() * ranges.length)];
    const cp = first + Math.floor(rand() * (last - first + 1));
    if (cp < 0xd800 || cp > 0xdfff) s += String.fromCodePoint(cp);
  }
  randomStrings.push(s);
}


// --- GGUF metadata: read every key/value, write a vocabulary-only file (no tensors) ---
const T = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9, U64: 10, I64: 11, F64: 12 };
const SCALAR = {
  [T.U8]: [1, "getUint8", "setUint8"], [T.I8]: [1, "getInt8", "setInt8"], [T.U16]: [2, "getUint16", "setUint16"],
  [T.I16]: [2, "getInt16", "setInt16"], [T.U32]: [4, "getUint32", "setUint32"], [T.I32]: [4, "getInt32", "setInt32"],
  [T.F32]: [4, "getFloat32", "setFloat32"], [T.BOOL]: [1, "getUint8", "setUint8"],
  [T.U64]: [8, "getBigUint64", "setBigUint64"], [T.I64]: [8, "getBigInt64", "setBigInt64"], [T.F64]: [8, "getFloat64", "setFloat64"],
};

function readGgufMetadata(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const u32 = () => { const v = view.getUint32(at, true); at += 4; return v; };
  const u64 = () => { const v = Number(view.getBigUint64(at, true)); at += 8; return v; };
  const str = () => { const n = u64(); const s = bytes.subarray(at, at + n).toString("utf8"); at += n; return s; };
  const value = (type) => {
    if (type === T.STRING) return str();
    if (type === T.ARRAY) {
      const elem = u32(), n = u64(), items = [];
      for (let i = 0; i < n; i++) items.push(value(elem));
      return { elem, items };
    }
    const [size, get] = SCALAR[type];
    const v = view[get](at, true);
    at += size;
    return v;
  };
  if (bytes.subarray(0, 4).toString("latin1") !== "GGUF") throw new Error("not a GGUF file");
  at = 8;
  u64(); // tensors
  const n = u64();
  const kv = new Map();
  for (let i = 0; i < n; i++) {
    const key = str(), type = u32();
    kv.set(key, { type, value: value(type) });
  }
  return kv;
}

function ggufBytes(kv) {
  const parts = [];
  const push = (size, fill) => { const b = Buffer.alloc(size); fill(new DataView(b.buffer, b.byteOffset, size)); parts.push(b); };
  const u32 = (v) => push(4, (d) => d.setUint32(0, v, true));
  const u64 = (v) => push(8, (d) => d.setBigUint64(0, BigInt(v), true));
  const str = (s) => { const b = Buffer.from(s, "utf8"); u64(b.length); parts.push(b); };
  const value = (type, v) => {
    if (type === T.STRING) return str(v);
    if (type === T.ARRAY) { u32(v.elem); u64(v.items.length); for (const item of v.items) value(v.elem, item); return; }
    const [size, , set] = SCALAR[type];
    push(size, (d) => d[set](0, v, true));
  };
  parts.push(Buffer.from("GGUF", "latin1"));
  u32(3);
  u64(0);
  u64(kv.size);
  for (const [key, { type, value: v }] of kv) { str(key); u32(type); value(type, v); }
  const length = parts.reduce((n, p) => n + p.length, 0);
  parts.push(Buffer.alloc((32 - (length % 32)) % 32)); // data section alignment (empty)
  return Buffer.concat(parts);
}

// GPT-2 byte-level symbols back to bytes.
const symbolToByte = new Map();
{
  let extra = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    symbolToByte.set(String.fromCodePoint(printable ? b : extra++), b);
  }
}

// A byte-level BPE vocabulary from SmolLM2's first `keep` tokens and the merges among them, plus
// number tokens "00".."999" (merged digit by digit, lowest priority) and whole-word tokens.
function bytePairVocab(kv, keep) {
  const tokens = kv.get("tokenizer.ggml.tokens").value.items.slice(0, keep);
  const types = kv.get("tokenizer.ggml.token_type").value.items.slice(0, keep);
  const have = new Set(tokens);
  const merges = kv.get("tokenizer.ggml.merges").value.items.filter((merge) => {
    const space = merge.indexOf(" ", 1);
    const left = merge.slice(0, space), right = merge.slice(space + 1);
    return have.has(left) && have.has(right) && have.has(left + right);
  });
  const add = (token) => {
    if (have.has(token)) return;
    have.add(token);
    tokens.push(token);
    types.push(1);
  };
  for (let n = 0; n < 100; n++) {
    const token = String(n).padStart(2, "0");
    add(token);
    merges.push(`${token[0]} ${token[1]}`);
  }
  for (let n = 0; n < 1000; n++) {
    const token = String(n).padStart(3, "0");
    add(token);
    merges.push(`${token.slice(0, 2)} ${token[2]}`);
  }
  for (const word of ["\u0120xyzzy", "\u0120plugh", "quux", "xyzzy"]) add(word);
  const bpe = new Map();
  for (const [key, entry] of kv) if (key !== "llama.vocab_size") bpe.set(key, entry);
  bpe.set("tokenizer.ggml.tokens", { type: T.ARRAY, value: { elem: T.STRING, items: tokens } });
  bpe.set("tokenizer.ggml.token_type", { type: T.ARRAY, value: { elem: T.I32, items: types } });
  bpe.set("tokenizer.ggml.merges", { type: T.ARRAY, value: { elem: T.STRING, items: merges } });
  bpe.delete("tokenizer.chat_template");
  return ggufBytes(bpe);
}

// A SentencePiece vocabulary from SmolLM2's: <unk> <s> </s>, <0x00>..<0xFF>, a user-defined and a
// control token, then the first BPE tokens that are whole UTF-8 text (spaces as U+2581), scored by
// their BPE rank so longer, later tokens score lower.
function sentencePieceVocab(kv, pieceCount) {
  const tokens = ["<unk>", "<s>", "</s>"], types = [2, 3, 3];
  for (let b = 0; b < 256; b++) { tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`); types.push(6); }
  tokens.push("<|user|>", "<|im_start|>"); types.push(4, 3);
  const seen = new Set(tokens);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (const token of kv.get("tokenizer.ggml.tokens").value.items) {
    if (tokens.length >= pieceCount) break;
    const bytes = Array.from(token, (ch) => symbolToByte.get(ch));
    if (bytes.some((b) => b === undefined)) continue;
    let text;
    try { text = decoder.decode(Uint8Array.from(bytes)); } catch { continue; }
    const piece = text.replaceAll(" ", "\u2581");
    // No control characters: llama.cpp reads GGUF strings as C strings, so "\0" would be empty.
    if (seen.has(piece) || piece.startsWith("<") || /[\u0000-\u001f\u007f]/.test(piece)) continue;
    seen.add(piece);
    tokens.push(piece);
    types.push(1);
  }
  const scores = tokens.map((_, i) => (types[i] === 1 ? -i : 0));
  const spm = new Map();
  for (const [key, entry] of kv) if (!key.startsWith("tokenizer.") && key !== "llama.vocab_size") spm.set(key, entry);
  spm.set("tokenizer.ggml.model", { type: T.STRING, value: "llama" });
  spm.set("tokenizer.ggml.tokens", { type: T.ARRAY, value: { elem: T.STRING, items: tokens } });
  spm.set("tokenizer.ggml.scores", { type: T.ARRAY, value: { elem: T.F32, items: scores } });
  spm.set("tokenizer.ggml.token_type", { type: T.ARRAY, value: { elem: T.I32, items: types } });
  spm.set("tokenizer.ggml.unknown_token_id", { type: T.U32, value: 0 });
  spm.set("tokenizer.ggml.bos_token_id", { type: T.U32, value: 1 });
  spm.set("tokenizer.ggml.eos_token_id", { type: T.U32, value: 2 });
  spm.set("tokenizer.ggml.add_bos_token", { type: T.BOOL, value: 1 });
  spm.set("tokenizer.ggml.add_space_prefix", { type: T.BOOL, value: 1 });
  return ggufBytes(spm);
}

const modelBytes = readFileSync(modelPath);
const modelSha256 = createHash("sha256").update(modelBytes).digest("hex");
const metadata = readGgufMetadata(modelBytes);
const texts = [...handWritten, ...randomStrings];
const { getLlama } = await import("node-llama-cpp");
const llama = await getLlama({ gpu: false });

async function writeGolden(fileName, ggufPath, header) {
  const model = await llama.loadModel({ modelPath: ggufPath, vocabOnly: true });
  const cases = [];
  for (const text of texts) {
    for (const parseSpecial of text.includes("<") ? [false, true] : [false]) {
      const ids = Array.from(model.tokenize(text, parseSpecial));
      cases.push({ text, parse_special: parseSpecial, ids, decoded: model.detokenize(ids, true) });
    }
  }
  await model.dispose();
  const fullHeader = {
    reference:
      "llama.cpp via node-llama-cpp@3.21.1: ids = model.tokenize(text, parse_special) (add_special=false), " +
      "decoded = model.detokenize(ids, true)",
    ...header,
  };
  // One case per line keeps the files diffable.
  const body = cases.map((c) => "  " + JSON.stringify(c)).join(",\n");
  writeFileSync(join(goldenDir, fileName),
    JSON.stringify(fullHeader, null, 1).replace(/\n}$/, ',\n "cases": [\n') + body + "\n ]\n}\n");
  console.log(`wrote ${cases.length} cases to ${fileName}`);
}

await writeGolden("smollm2-tokenizer.json", modelPath, { model: basename(modelPath), model_sha256: modelSha256 });
const bpePath = join(goldenDir, "bpe-vocab.gguf");
writeFileSync(bpePath, bytePairVocab(metadata, 4000));
const scratch = mkdtempSync(join(tmpdir(), "ol-tok-golden-"));
try {
  for (const pre of ["llama-bpe", "qwen2", "gpt-2", "default"]) {
    const kv = readGgufMetadata(readFileSync(bpePath));
    kv.set("tokenizer.ggml.pre", { type: T.STRING, value: pre });
    const path = join(scratch, `${pre}.gguf`);
    writeFileSync(path, ggufBytes(kv));
    await writeGolden(`bpe-pre-${pre}-tokenizer.json`, path, { vocab_fixture: "bpe-vocab.gguf", pre_override: pre });
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
const spmPath = join(goldenDir, "spm-vocab.gguf");
writeFileSync(spmPath, sentencePieceVocab(metadata, 6000));
await writeGolden("spm-tokenizer.json", spmPath, { vocab_fixture: "spm-vocab.gguf" });
await llama.dispose();
