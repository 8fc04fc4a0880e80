// Prompts for the conformance tests: prose, questions, code, lists, numbers, other languages, ChatML
// turns (SmolLM2's template; rendered with special tokens), and a few of 64 tokens or more, which
// llama.cpp evaluates with its tiled flash attention when they come in one batch.
const chat = (user: string): string => `<|im_start|>system\nYou are a helpful AI assistant.<|im_end|>\n<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;

export const conformancePrompts: { text: string; parseSpecial: boolean }[] = [
  ...[
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "The three primary colors are",
    "Water boils at a temperature of",
    "In 1969, the first humans landed on",
    "The quick brown fox jumps over the lazy dog. The quick brown fox",
    "To make a cup of tea, first you",
    "Photosynthesis is the process by which plants",
    "The largest planet in our solar system is",
    "def fibonacci(n):\n    if n < 2:\n        return n\n",
    "import numpy as np\n\nx = np.arange(10)\ny =",
    "function add(a, b) {\n  return",
    "SELECT name, age FROM users WHERE",
    "#include <stdio.h>\n\nint main(void) {\n",
    "1, 2, 3, 4, 5, 6,",
    "2 + 2 = 4. 3 + 3 = 6. 4 + 4 =",
    "Monday, Tuesday, Wednesday,",
    "The recipe calls for 2 cups of flour, 1 cup of sugar, and",
    "Dear Sir or Madam,\n\nI am writing to",
    "Q: What is the boiling point of water?\nA:",
    "Le chat est sur la table. Le chien",
    "Der schnelle braune Fuchs springt",
    "Machine learning is a field of study that",
    "A haiku about autumn:\n",
    "The mitochondria is the powerhouse of the",
    "To be, or not to be, that is",
    "<html>\n<head>\n<title>",
    "{\"name\": \"Alice\", \"age\": 30, \"city\":",
    "The theory of relativity was developed by",
    "Step 1: Preheat the oven to 180 degrees.\nStep 2:",
    "In the beginning was the Word, and the Word was",
    "The stock market closed higher today as investors",
    "A list of fruits: apple, banana, cherry,",
    "git commit -m \"",
    "The Pythagorean theorem states that",
    "Roses are red, violets are blue,",
    "It was the best of times, it was the worst of times,",
    "Hello! My name is",
    "The weather forecast for tomorrow calls for",
    "Translate to French: Good morning ->",
  ].map((text) => ({ text, parseSpecial: false })),
  ...[
    "What is the capital of Germany?",
    "Write a short poem about the ocean.",
    "Explain what a neural network is in one sentence.",
    "List three benefits of exercise.",
    "How do I reverse a string in Python?",
    "What is 12 times 7?",
    "Give me a name for a pet cat.",
    "Summarize the plot of Romeo and Juliet.",
    "Why is the sky blue?",
    "Tell me a fun fact about octopuses.",
  ].map((user) => ({ text: chat(user), parseSpecial: true })),
  ...[
    "The old lighthouse keeper kept a logbook for forty years. Every evening he wrote down the weather, the ships that passed, " +
      "and one sentence about something he had noticed that day: a heron standing on the rocks, the smell of rain before a storm, " +
      "a child waving from the deck of a ferry. When he retired, the village library asked to keep the logbooks, and people still",
    "def merge_sorted(a, b):\n    \"\"\"Merge two sorted lists into one sorted list.\"\"\"\n    result = []\n    i = j = 0\n" +
      "    while i < len(a) and j < len(b):\n        if a[i] <= b[j]:\n            result.append(a[i])\n            i += 1\n" +
      "        else:\n            result.append(b[j])\n            j += 1\n    result.extend(a[i:])\n",
  ].map((text) => ({ text, parseSpecial: false })),
  {
    text: chat(
      "I am planning a three-day trip to a city I have never visited. I like museums, long walks and trying local food, " +
        "but I do not enjoy crowded tourist places. Could you suggest how to organise the days, what to pack, and how to find " +
        "good places to eat without relying only on online reviews?",
    ),
    parseSpecial: true,
  },
];
