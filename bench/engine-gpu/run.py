#!/usr/bin/env python3
"""The engine's CUDA backend beside PyTorch (transformers + PEFT) on the same GPU, same weights.

Runs on a machine with an NVIDIA GPU, PyTorch, transformers and PEFT (no model hub needed):
  1. writes a random llama model with SmolLM2-135M's shape (fp16 safetensors, transformers'
     own save_pretrained) and 32 random rank-16 all-linear PEFT adapters (peft's save_pretrained);
  2. agreement: teacher-forced logits of ours vs PyTorch's, base and with an adapter;
  3. speed, each figure beside PyTorch's measured in the same run, printed as a ratio:
     single-stream decode, prefill, 32 concurrent requests on 32 adapters (PEFT: one batch with
     adapter_names), 32 base-only requests.

  python3 bench/engine-gpu/run.py --ol-bench native/build/tools/ol_bench [--work DIR] [--out results.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

SHAPES = {
    # SmolLM2-135M-Instruct's hyper-parameters (random weights: there is no model hub here).
    "smollm2-135m": dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                         num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
                         rms_norm_eps=1e-5, rope_theta=100000.0, tie_word_embeddings=True),
}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def make_model(work, shape):
    from transformers import LlamaConfig, LlamaForCausalLM
    path = os.path.join(work, shape)
    torch.manual_seed(0)
    cfg = LlamaConfig(**SHAPES[shape])
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():  # transformers' init is small; widen it so logits are not flat
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.05)
    model = model.to(torch.float16)
    model.save_pretrained(path)
    return path


def make_adapters(work, model_path, n):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    base = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float16)
    dirs = []
    for i in range(n):
        torch.manual_seed(1000 + i)
        cfg = LoraConfig(r=16, lora_alpha=32, target_modules=TARGETS, init_lora_weights=False)
        peft_model = get_peft_model(base, cfg)
        d = os.path.join(work, f"adapter{i:02d}")
        peft_model.save_pretrained(d)
        base = peft_model.unload()
        dirs.append(d)
    return dirs


def ol_bench(binary, *args, graphs=False):
    env = dict(os.environ, OL_CUDA_GRAPHS="1" if graphs else "0")
    out = subprocess.run([binary, *args], check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def prompt_ids(n, seed, vocab):
    # The same ids ol_bench uses (tools/ol_bench.cpp, prompt()).
    return [(i * 7919 + seed * 104729 + 17) % vocab for i in range(n)]


def agreement(args, model_path, adapter_dir, vocab):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    ids = prompt_ids(64, 7, vocab)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float16).cuda().eval()
    results = {}
    for name, adapter in (("base", None), ("adapter", adapter_dir)):
        ref_model = PeftModel.from_pretrained(model, adapter).eval() if adapter else model
        with torch.no_grad():
            ref = ref_model(torch.tensor([ids], device="cuda")).logits[0].float().cpu()
        out = os.path.join(args.work, f"logits-{name}.bin")
        extra = ["--adapter", adapter] if adapter else []
        ol_bench(args.ol_bench, "logits", "--model", model_path, "--backend", "1", "--ids", ",".join(map(str, ids)), "--out", out, *extra)
        ours = torch.frombuffer(bytearray(open(out, "rb").read()), dtype=torch.float32).view(len(ids), vocab)
        top1 = (ours.argmax(-1) == ref.argmax(-1)).float().mean().item()
        rel = ((ours - ref).abs().max() / ref.abs().max()).item()
        kl = torch.nn.functional.kl_div(ours.log_softmax(-1), ref.log_softmax(-1), log_target=True, reduction="none").sum(-1).mean().item()
        results[name] = dict(top1=top1, max_rel_diff=rel, mean_kl=kl)
        if adapter:
            ref_model.unload()
    del model
    torch.cuda.empty_cache()
    return results


def torch_speed(model_path, adapter_dirs, vocab, prompt_tokens, decode_tokens, requests, tokens, reps):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, DynamicCache
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float16).cuda().eval()
    res = {}
    with torch.no_grad():
        prefill, decode = [], []
        for rep in range(reps + 1):
            x = torch.tensor([prompt_ids(prompt_tokens, rep, vocab)], device="cuda")
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            model(x)
            torch.cuda.synchronize()
            t_prefill = time.perf_counter() - t0
            cache = DynamicCache()
            out = model(torch.tensor([prompt_ids(16, 100 + rep, vocab)], device="cuda"), past_key_values=cache, use_cache=True)
            nxt = out.logits[:, -1:].argmax(-1)
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(decode_tokens):
                out = model(nxt, past_key_values=cache, use_cache=True)
                nxt = out.logits[:, -1:].argmax(-1)
            torch.cuda.synchronize()
            t_decode = time.perf_counter() - t0
            if rep > 0:
                prefill.append(prompt_tokens / t_prefill)
                decode.append(decode_tokens / t_decode)
        res["prefill_tok_s"] = statistics.median(prefill)
        res["decode_tok_s"] = statistics.median(decode)

        def batch_rate(gen_model, **kw):
            # One timed generation after a short warm-up: PEFT's mixed-adapter batches are slow.
            def generate(rep, n):
                x = torch.tensor([prompt_ids(16, 1000 * rep + i, vocab) for i in range(requests)], device="cuda")
                gen_model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=n, min_new_tokens=n,
                                   do_sample=False, pad_token_id=0, **kw)
            generate(0, 2)
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            generate(1, tokens)
            torch.cuda.synchronize()
            return requests * tokens / (time.perf_counter() - t0)

        res["batch_base_tok_s"] = batch_rate(model)
        peft_model = PeftModel.from_pretrained(model, adapter_dirs[0], adapter_name="a0")
        for i, d in enumerate(adapter_dirs[1:], start=1):
            peft_model.load_adapter(d, adapter_name=f"a{i}")
        peft_model.eval()
        names = [f"a{i % len(adapter_dirs)}" for i in range(requests)]
        res["batch_adapters_tok_s"] = batch_rate(peft_model, adapter_names=names)
    del model
    torch.cuda.empty_cache()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ol-bench", required=True)
    ap.add_argument("--work", default="/tmp/engine-gpu")
    ap.add_argument("--out", default=None)
    ap.add_argument("--shape", default="smollm2-135m", choices=sorted(SHAPES))
    ap.add_argument("--adapters", type=int, default=32)
    ap.add_argument("--prompt-tokens", type=int, default=256)
    ap.add_argument("--decode-tokens", type=int, default=128)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    results = dict(device=torch.cuda.get_device_name(0), torch=torch.__version__, shape=args.shape)

    def save():
        if args.out:
            with open(args.out, "w") as f:
                json.dump(results, f, indent=2)

    t0 = time.perf_counter()
    model_path = make_model(args.work, args.shape)
    adapters = make_adapters(args.work, model_path, args.adapters)
    vocab = SHAPES[args.shape]["vocab_size"]
    log(f"model and {len(adapters)} adapters written in {time.perf_counter() - t0:.1f} s")

    results["agreement"] = agreement(args, model_path, adapters[0], vocab)
    log("agreement", results["agreement"])
    save()

    common = ["--model", model_path, "--backend", "1", "--reps", str(args.reps)]
    batch_args = ["--requests", str(args.adapters), "--tokens", str(args.tokens)]
    adapter_flags = [x for d in adapters for x in ("--adapter", d)]

    def measure_ours(graphs):
        r = ol_bench(args.ol_bench, "decode", *common, "--prompt-tokens", str(args.prompt_tokens), "--decode-tokens", str(args.decode_tokens),
                     graphs=graphs)
        r["batch_base_tok_s"] = ol_bench(args.ol_bench, "batch", *common, *batch_args, graphs=graphs)["aggregate_tok_s"]
        r["batch_adapters_tok_s"] = ol_bench(args.ol_bench, "batch", *common, *batch_args, *adapter_flags, graphs=graphs)["aggregate_tok_s"]
        return r

    ours = results["ours"] = measure_ours(False)
    log("ours", ours)
    save()
    ours_graphs = results["ours_cuda_graphs"] = measure_ours(True)  # OL_CUDA_GRAPHS=1 (opt-in)
    log("ours with CUDA graphs", ours_graphs)
    save()
    ref = torch_speed(model_path, adapters, vocab, args.prompt_tokens, args.decode_tokens, args.adapters, args.tokens, args.reps)
    results["pytorch"] = ref
    save()

    rows = [("single-stream decode", "decode_tok_s"), (f"prefill ({args.prompt_tokens}-token prompt)", "prefill_tok_s"),
            (f"{args.adapters} requests, {args.adapters} adapters", "batch_adapters_tok_s"),
            (f"{args.adapters} requests, base only", "batch_base_tok_s")]
    print(f"\n{results['device']}, {args.shape} (random fp16 weights), PyTorch {results['torch']} + PEFT in the same run")
    print(f"{'metric':40} {'ours':>10} {'pytorch':>10} {'ratio':>7} {'ours+graphs':>12} {'ratio':>7}   (tok/s)")
    for label, key in rows:
        print(f"{label:40} {ours[key]:10.1f} {ref[key]:10.1f} {ours[key] / ref[key]:6.2f}x {ours_graphs[key]:12.1f} {ours_graphs[key] / ref[key]:6.2f}x")
    loss_ours = 1 - ours["batch_adapters_tok_s"] / ours["batch_base_tok_s"]
    loss_ref = 1 - ref["batch_adapters_tok_s"] / ref["batch_base_tok_s"]
    print(f"{'loss from adapters vs base only':40} {100 * loss_ours:9.1f}% {100 * loss_ref:9.1f}%")
    for name, a in results["agreement"].items():
        print(f"agreement with PyTorch ({name}): top-1 {100 * a['top1']:.1f}%, max |diff| / max |logit| {a['max_rel_diff']:.2e}, mean KL {a['mean_kl']:.2e}")
    results["loss_ours"], results["loss_pytorch"] = loss_ours, loss_ref
    save()


if __name__ == "__main__":
    main()
