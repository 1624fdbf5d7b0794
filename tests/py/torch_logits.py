"""Loads a `gptsweep export --format safetensors` file into a PyTorch model of the lecture
and prints its logits for a given input as JSON: what tests/safetensors_e2e.rs compares
with gptsweep's own. The model is built from the file's metadata alone: the lecture's
gpt.py (tests/py/lecture_gpt.py) for layout `lecture`, bench/torch_gpt.py's GPT for
`fused`; the state_dict is loaded strictly (every name, every shape). The file is read
by a dozen lines here, so that no package beyond torch is needed.

Usage: torch_logits.py FILE.safetensors TEXT  ->  {"ids": [...], "logits": [[...], ...]}
(TEXT is encoded with the file's character vocabulary.) Exits 3 when torch is missing."""
import json, os, struct, sys

try:
    import torch
except ImportError:
    print("torch is not installed", file=sys.stderr)
    sys.exit(3)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "..", "bench")]


def read_safetensors(path):
    """The file's tensors by name and its metadata (F32 only, as gptsweep writes)."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n :]
    tensors = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", (name, e["dtype"])
        start, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[start:end]), dtype=torch.float32)
        tensors[name] = t.reshape(e["shape"])
    return tensors, meta


def main():
    path, text = sys.argv[1], sys.argv[2]
    tensors, meta = read_safetensors(path)
    dims = {k: int(meta[k]) for k in ("vocab_size", "block_size", "n_embd", "n_head", "n_layer")}
    dropout = float(meta["dropout"])
    if meta["layout"] == "lecture":
        from lecture_gpt import GPTLanguageModel

        model = GPTLanguageModel(dropout=dropout, **dims)
        forward = model
    else:
        from torch_gpt import GPT

        model = GPT(dims["vocab_size"], dims["block_size"], dims["n_embd"], dims["n_head"], dims["n_layer"], dropout)
        forward = lambda idx: model.head(model.ln_f(model.blocks(model.tok(idx) + model.pos(torch.arange(idx.shape[1])))))
    model.load_state_dict(tensors, strict=True)
    model.eval()
    stoi = {c: i for i, c in enumerate(meta["vocabulary"])}
    ids = [stoi[c] for c in text]
    with torch.no_grad():
        logits = forward(torch.tensor([ids]))[0]
    print(json.dumps({"ids": ids, "logits": logits.tolist()}))


if __name__ == "__main__":
    main()
