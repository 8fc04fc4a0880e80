/* ol_engine.h — the native engine's C API. The Node-API binding, the CLI and any other host use
 * only this header; everything behind it (tensors, backends, models, batcher) may change freely.
 *
 * Conventions:
 *  - Every function that can fail returns an ol_status (0 = OK) and, on failure, a message that
 *    ol_last_error() returns for the calling thread until the next call on that thread.
 *  - Handles are opaque; each _create and _load function has a matching _free. Freeing NULL is a no-op.
 *  - Strings are UTF-8, NUL-terminated unless a length is given. Token ids are int32.
 *  - Thread safety: an ol_model is immutable after load and may be shared. An ol_engine is safe to
 *    call from any thread: requests are queued and run by the engine's own scheduler thread.
 */
#ifndef OL_ENGINE_H
#define OL_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t ol_status;
enum {
  OL_OK = 0,
  OL_ERR_INVALID_ARGUMENT = 1, /* bad parameter from the caller */
  OL_ERR_BAD_FILE = 2,         /* malformed/truncated/unsupported model, tokenizer or adapter file */
  OL_ERR_IO = 3,               /* file not found, unreadable */
  OL_ERR_OUT_OF_MEMORY = 4,
  OL_ERR_NOT_FOUND = 5,        /* unknown adapter id, request id */
  OL_ERR_CANCELLED = 6,
  OL_ERR_INTERNAL = 7
};

/* Message for the last failure on this thread ("" when none). Valid until the next API call. */
const char* ol_last_error(void);

/* ---------------------------------------------------------------- models */
typedef struct ol_model ol_model;

typedef struct {
  int32_t n_threads;        /* 0 = number of cores */
  int32_t backend;          /* 0 = CPU, 1 = CUDA (fails with OL_ERR_INVALID_ARGUMENT if not built) */
} ol_model_params;

/* Loads a GGUF file, or a directory with config.json + *.safetensors (+ tokenizer.json). */
ol_status ol_model_load(const char* path, const ol_model_params* params, ol_model** out);
void ol_model_free(ol_model* model);

typedef struct {
  char architecture[32];    /* "llama", "qwen2" */
  int32_t n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, n_ff;
  int32_t bos_id, eos_id;   /* -1 when absent */
  int64_t n_params;
  int64_t weights_bytes;
} ol_model_info;
ol_status ol_model_get_info(const ol_model* model, ol_model_info* out);

/* ---------------------------------------------------------------- tokenizer */
/* Tokenizes like the reference implementation (llama.cpp for GGUF, HF tokenizers for tokenizer.json).
 * add_special: prepend BOS etc. as the model's metadata says; parse_special: recognise special
 * tokens written in the text (e.g. "<|im_start|>"). Writes up to cap ids, sets *n to the total count
 * (call again with a larger buffer when *n > cap). */
ol_status ol_tokenize(const ol_model* model, const char* text, size_t text_len, int add_special,
                      int parse_special, int32_t* ids, size_t cap, size_t* n);
/* Concatenated text of the ids (special tokens rendered when render_special != 0). Same cap/n rule,
 * in bytes, no NUL added. */
ol_status ol_detokenize(const ol_model* model, const int32_t* ids, size_t n_ids, int render_special,
                        char* buf, size_t cap, size_t* n);
/* Renders a chat with the model's own template (from metadata). roles/contents are parallel arrays.
 * add_generation_prompt appends the assistant prefix. Same cap/n rule, in bytes. */
ol_status ol_apply_chat_template(const ol_model* model, const char* const* roles,
                                 const char* const* contents, size_t n_messages,
                                 int add_generation_prompt, char* buf, size_t cap, size_t* n);

/* ---------------------------------------------------------------- adapters (multi-LoRA) */
typedef struct ol_engine ol_engine;

/* How resident adapters hold their A/B matrices. */
typedef enum {
  OL_ADAPTER_AS_STORED = 0, /* F32, or F16/BF16 when the file stores them so: exact */
  OL_ADAPTER_Q8 = 1         /* int8, one scale per rank component of A and of B: a quarter of F32's
                               bytes per decode step (many-adapter batches are bound by memory
                               traffic), at a small cost in accuracy (native/README.md) */
} ol_adapter_precision;

typedef struct {
  int32_t max_batch_tokens;    /* tokens per scheduler step (prefill chunks + decodes); 0 = 512 */
  int32_t max_sequences;       /* concurrent sequences; 0 = 64 */
  int32_t kv_block_size;       /* tokens per KV block; 0 = 16 */
  int64_t kv_cache_bytes;      /* KV pool size; 0 = enough for max_sequences x n_ctx_train/4, at most
                                  1 GiB (reserved, touched as used). K/V are half precision (as in
                                  llama.cpp) unless every linear weight of the model is F32. */
  int64_t adapter_budget_bytes;/* resident adapter memory; LRU beyond it; 0 = 256 MiB */
  int32_t adapter_precision;   /* an ol_adapter_precision; 0 = as stored */
} ol_engine_params;

ol_status ol_engine_create(ol_model* model, const ol_engine_params* params, ol_engine** out);
/* Stops the scheduler, cancels running requests (their callbacks get OL_ERR_CANCELLED), frees. */
void ol_engine_free(ol_engine* engine);

/* Registers a PEFT adapter directory (adapter_config.json + adapter_model.safetensors). Validates
 * the config and tensor shapes against the model but loads the weights lazily (first use).
 * Returns a stable adapter id > 0. */
ol_status ol_engine_register_adapter(ol_engine* engine, const char* dir, int32_t* adapter_id);
ol_status ol_engine_unregister_adapter(ol_engine* engine, int32_t adapter_id);
/* Forces the adapter resident now (useful to measure cold-load time); *load_us gets the time spent
 * (0 when it was already resident). */
ol_status ol_engine_load_adapter(ol_engine* engine, int32_t adapter_id, int64_t* load_us);

typedef struct {
  int32_t registered, resident;
  int64_t resident_bytes;
  int64_t hits, misses, evictions;
  int32_t running_sequences, waiting_sequences;
  int64_t kv_blocks_total, kv_blocks_used;
} ol_engine_stats;
ol_status ol_engine_get_stats(const ol_engine* engine, ol_engine_stats* out);

/* ---------------------------------------------------------------- generation */
typedef struct {
  float temperature;         /* 0 = greedy */
  int32_t top_k;             /* 0 = off */
  float top_p;               /* 1 = off */
  float min_p;               /* 0 = off */
  float repetition_penalty;  /* 1 = off */
  int32_t repetition_last_n; /* 0 = 64 */
  uint64_t seed;
} ol_sampling_params;

typedef struct {
  const int32_t* prompt_ids;
  size_t n_prompt;
  int32_t max_tokens;
  ol_sampling_params sampling;
  const char* const* stop;   /* stop strings; generation ends when the text ends with one */
  size_t n_stop;
  const int32_t* adapter_ids;/* LoRA adapters combined linearly with these weights; n_adapters 0 = base */
  const float* adapter_weights;
  size_t n_adapters;
  int32_t ignore_eos;
} ol_request;

typedef enum {
  OL_FINISH_NONE = 0,       /* not finished: more tokens follow */
  OL_FINISH_LENGTH = 1,
  OL_FINISH_EOS = 2,
  OL_FINISH_STOP = 3,
  OL_FINISH_CANCELLED = 4,
  OL_FINISH_ERROR = 5
} ol_finish_reason;

/* Called on the engine's scheduler thread for every generated token (token >= 0, piece = its text
 * bytes, possibly an incomplete UTF-8 sequence) and once more at the end (token = -1,
 * finish != OL_FINISH_NONE; on OL_FINISH_ERROR, piece is the error message). Must not block. */
typedef void (*ol_token_callback)(void* user, uint64_t request_id, int32_t token, const char* piece,
                                  size_t piece_len, ol_finish_reason finish);

/* Queues a request; it joins the running batch at the next scheduler step. */
ol_status ol_engine_submit(ol_engine* engine, const ol_request* request, ol_token_callback cb,
                           void* user, uint64_t* request_id);
ol_status ol_engine_cancel(ol_engine* engine, uint64_t request_id);

/* ---------------------------------------------------------------- evaluation (tests, conformance) */
/* Runs sequences through the model (teacher forcing) as ONE batch, through the same batched
 * multi-LoRA path the scheduler uses, and writes the logits of every position of each sequence:
 * out has n_ids * n_vocab floats. Synchronous; shares the engine's weights and adapters. A batch of
 * one sequence gives the "alone" result the mixed-batch tests compare with. */
typedef struct {
  const int32_t* ids;
  size_t n_ids;
  const int32_t* adapter_ids;   /* n_adapters 0 = base only */
  const float* adapter_weights;
  size_t n_adapters;
  float* out;
} ol_eval_sequence;
ol_status ol_engine_eval_logits(ol_engine* engine, const ol_eval_sequence* seqs, size_t n_seqs);

#ifdef __cplusplus
}
#endif
#endif /* OL_ENGINE_H */
