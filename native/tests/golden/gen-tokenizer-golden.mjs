// Writes smollm2-tokenizer.json: (text, parse_special, llama.cpp ids) for ~260 varied strings, tokenized
// by llama.cpp through node-llama-cpp (the reference). Rerun after changing the strings:
//   node native/tests/golden/gen-tokenizer-golden.mjs [model.gguf]
// The strings are hand-written cases plus seeded random mixes of character classes, so the file is
// reproducible; the ids are whatever llama.cpp says.
import { createHash } from "node:crypto";
import { createReadStream, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const modelPath =
  process.argv[2] ?? join(homedir(), ".cache/openledger/models/SmolLM2-135M-Instruct.Q4_1.gguf");
const outPath = join(dirname(fileURLToPath(import.meta.url)), "smollm2-tokenizer.json");

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

const sha256 = await new Promise((resolve, reject) => {
  const hash = createHash("sha256");
  createReadStream(modelPath).on("data", (d) => hash.update(d)).on("end", () => resolve(hash.digest("hex"))).on("error", reject);
});
const { getLlama } = await import("node-llama-cpp");
const llama = await getLlama({ gpu: false });
const model = await llama.loadModel({ modelPath });
const cases = [];
for (const text of [...handWritten, ...randomStrings]) {
  for (const parseSpecial of text.includes("<") ? [false, true] : [false]) {
    cases.push({ text, parse_special: parseSpecial, ids: Array.from(model.tokenize(text, parseSpecial)) });
  }
}
await model.dispose();
await llama.dispose();
const header = {
  reference: "llama.cpp via node-llama-cpp@3.21.1 model.tokenize(text, parse_special) (add_special=false)",
  model: basename(modelPath),
  model_sha256: sha256,
};
// One case per line keeps the file diffable.
const body = cases.map((c) => "  " + JSON.stringify(c)).join(",\n");
writeFileSync(outPath, JSON.stringify(header, null, 1).replace(/\n}$/, ',\n "cases": [\n') + body + "\n ]\n}\n");
console.log(`wrote ${cases.length} cases to ${outPath}`);
