// What the loader harnesses check of a tokenizer built from a fuzzed file.
#pragma once

#include <cstdlib>
#include <stdexcept>

#include "common/error.h"
#include "tokenizer/tokenizer.h"

namespace ol::fuzz {

// Builds a tokenizer from spec_of() and encodes and decodes a sample with it. A refusal must be
// ol::Error(OL_ERR_BAD_FILE), or std::runtime_error from make_tokenizer for an inconsistent
// vocabulary; any other error aborts.
template <typename SpecOf>
void check_tokenizer(SpecOf spec_of) {
  try {
    const auto tokenizer = make_tokenizer(spec_of());
    const auto ids = tokenizer->encode("Hello <|im_start|>user\n 123 wörld 😀", true, true);
    tokenizer->decode(ids, true);
  } catch (const Error& e) {
    if (e.status() != OL_ERR_BAD_FILE) std::abort();
  } catch (const std::runtime_error&) {
    // make_tokenizer refused an inconsistent vocabulary
  }
}

}  // namespace ol::fuzz
