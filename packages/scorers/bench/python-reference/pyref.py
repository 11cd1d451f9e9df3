"""The Python stack a user would run instead of SemClip's CLIP scorer, for the side-by-side bench.

Same job as SemClip's path: decode the photo (PIL, EXIF orientation applied), the overview at the
VLM's input size (PIL bicubic resize), the grid's tiles (PIL crops), Hugging Face's
CLIPImageProcessor on the tiles, the text tower on the question, the vision tower on the tiles
(onnxruntime InferenceSession on the very ONNX files SemClip loads), cosine scores.

Driven by python-reference.bench.ts over stdin/stdout, one JSON object per line, so the TypeScript
and Python runs can alternate in one process each (A/B/A/B) while both stay warm:

  {"cmd": "load", "dir": ..., "dtype": "fp32"}            -> {"ok": true, "loadMs": ...}
  {"cmd": "run", "image": ..., "boxes": [[x, y, w, h], ...], "overview": 336, "question": ...,
   "encodeOverview": false}                               -> {"ms": ..., "stages": {...}, "scores": [...]}
  {"cmd": "scoreRaw", "file": ..., "dims": [n, 3, h, w], "question": ...}
      the vision tower on a float32 tensor written by the bench (SemClip's pixels), for telling
      model agreement apart from preprocessing differences -> {"scores": [...]}
  {"cmd": "pixels", "image": ..., "boxes": ..., "file": ...}
      CLIPImageProcessor's pixels written as raw float32 -> {"dims": [...]}
  {"cmd": "variants", "dir": ...}  writes the q8, int8 and fp16 files (onnx/*_quantized.onnx,
      *_int8.onnx, *_fp16.onnx) next to the fp32 files, see variants()
  {"cmd": "quit"}

Never a test dependency: the bench skips this half with one line when the venv is missing.
"""

import json
import os
import sys
import time

SUFFIX = {"fp32": "", "q8": "_quantized", "int8": "_int8", "fp16": "_fp16"}


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Stack:
    def __init__(self):
        self.loaded = None

    def load(self, model_dir, dtype, threads):
        import onnxruntime as ort
        from transformers import CLIPImageProcessor, CLIPTokenizer

        t = time.perf_counter()
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
        suffix = SUFFIX[dtype]
        onnx_dir = os.path.join(model_dir, "onnx")
        self.processor = CLIPImageProcessor.from_pretrained(model_dir)
        # CLIPTokenizer, not AutoTokenizer: the latter reads config.json, whose generated "initializer_factor: 1"
        # (JSON has no 1.0) transformers 5 refuses as not a float.
        self.tokenizer = CLIPTokenizer.from_pretrained(model_dir)
        self.text = ort.InferenceSession(os.path.join(onnx_dir, f"text_model{suffix}.onnx"), opts, providers=["CPUExecutionProvider"])
        self.vision = ort.InferenceSession(os.path.join(onnx_dir, f"vision_model{suffix}.onnx"), opts, providers=["CPUExecutionProvider"])
        self.text_inputs = [i.name for i in self.text.get_inputs()]
        self.loaded = (model_dir, dtype)
        return {"ok": True, "loadMs": (time.perf_counter() - t) * 1000}

    def text_embeds(self, question):
        import numpy as np

        enc = self.tokenizer([question], padding=True, truncation=True, max_length=77, return_tensors="np")
        feeds = {name: enc[name].astype(np.int64) for name in self.text_inputs}
        (t,) = self.text.run(["text_embeds"], feeds)
        return t / np.linalg.norm(t, axis=-1, keepdims=True)

    def image_embeds(self, pixel_values):
        import numpy as np

        (v,) = self.vision.run(["image_embeds"], {"pixel_values": pixel_values})
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    def tiles(self, image, boxes, overview):
        from PIL import Image, ImageOps

        img = Image.open(image)
        ImageOps.exif_transpose(img, in_place=True)
        img = img.convert("RGB")  # decodes
        t_decode = time.perf_counter()
        ov = img.resize((overview, overview), Image.BICUBIC) if overview else None
        crops = [img.crop((x, y, x + w, y + h)) for x, y, w, h in boxes]
        return img, ov, crops, t_decode

    def run(self, image, boxes, overview, question, encode_overview):
        t0 = time.perf_counter()
        _img, ov, crops, t1 = self.tiles(image, boxes, overview)
        t2 = time.perf_counter()
        # encode_overview: the overview goes through the processor and the vision tower with the
        # tiles (one batch), as a Python pipeline that embeds every image it makes does.
        images = [ov, *crops] if encode_overview else crops
        pixel_values = self.processor(images=images, return_tensors="np")["pixel_values"]
        t3 = time.perf_counter()
        q = self.text_embeds(question)
        t4 = time.perf_counter()
        v = self.image_embeds(pixel_values)
        t5 = time.perf_counter()
        scores = (v @ q[0]).tolist()[1:] if encode_overview else (v @ q[0]).tolist()
        t6 = time.perf_counter()
        ms = lambda a, b: (b - a) * 1000  # noqa: E731
        return {
            "ms": ms(t0, t6),
            "stages": {"decode": ms(t0, t1), "overviewAndCrops": ms(t1, t2), "processor": ms(t2, t3), "text": ms(t3, t4), "vision": ms(t4, t5), "score": ms(t5, t6)},
            "scores": scores,
        }

    def pixels(self, image, boxes, out):
        _img, _ov, crops, _t = self.tiles(image, boxes, 0)
        pv = self.processor(images=crops, return_tensors="np")["pixel_values"]
        pv.astype("float32").tofile(out)
        return {"dims": list(pv.shape)}

    def score_raw(self, file, dims, question):
        import numpy as np

        pv = np.fromfile(file, dtype=np.float32).reshape(dims)
        q = self.text_embeds(question)
        v = self.image_embeds(pv)
        return {"scores": (v @ q[0]).tolist()}


def variants(model_dir):
    """The q8, int8 and fp16 files transformers.js loads for those dtypes, made from the fp32 towers.

    q8 (`*_quantized.onnx`) as transformers.js's own quantize script makes it: dynamic quantization,
    signed int8 weights unless the graph has a Conv (then unsigned, which onnxruntime-web needs for
    ConvInteger): so the vision tower (patch-embedding Conv) gets uint8 weights, the text tower int8.
    int8 (`*_int8.onnx`): int8 weights everywhere. fp16 (`*_fp16.onnx`): float16 weights and
    arithmetic, float32 inputs and outputs (keep_io_types, as transformers.js's float16 script).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.float16 import convert_float_to_float16

    onnx_dir = os.path.join(model_dir, "onnx")
    made = {}
    for tower in ("text_model", "vision_model"):
        src = os.path.join(onnx_dir, f"{tower}.onnx")
        has_conv = None

        def conv():
            nonlocal has_conv
            if has_conv is None:
                has_conv = any(n.op_type == "Conv" for n in onnx.load(src, load_external_data=False).graph.node)
            return has_conv

        for suffix, weight_type in (("_quantized", None), ("_int8", QuantType.QInt8)):
            out = os.path.join(onnx_dir, f"{tower}{suffix}.onnx")
            if os.path.exists(out):
                continue
            t = time.perf_counter()
            wt = weight_type or (QuantType.QUInt8 if conv() else QuantType.QInt8)
            quantize_dynamic(src, out + ".part", weight_type=wt)
            os.replace(out + ".part", out)
            made[f"{tower}{suffix}"] = {"ms": round((time.perf_counter() - t) * 1000), "weights": str(wt)}
        f16 = os.path.join(onnx_dir, f"{tower}_fp16.onnx")
        if not os.path.exists(f16):
            t = time.perf_counter()
            half = convert_float_to_float16(onnx.load(src), keep_io_types=True)
            onnx.save(half, f16 + ".part")
            os.replace(f16 + ".part", f16)
            made[f"{tower}_fp16"] = {"ms": round((time.perf_counter() - t) * 1000)}
    return {"ok": True, "made": made}


def main():
    stack = Stack()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
            cmd = msg["cmd"]
            if cmd == "quit":
                reply({"ok": True})
                return
            if cmd == "versions":
                import numpy
                import onnxruntime
                import PIL
                import transformers

                reply({"python": sys.version.split()[0], "transformers": transformers.__version__, "onnxruntime": onnxruntime.__version__, "pillow": PIL.__version__, "numpy": numpy.__version__})
            elif cmd == "load":
                reply(stack.load(msg["dir"], msg.get("dtype", "fp32"), msg.get("threads")))
            elif cmd == "run":
                reply(stack.run(msg["image"], msg["boxes"], msg.get("overview", 336), msg["question"], bool(msg.get("encodeOverview"))))
            elif cmd == "pixels":
                reply(stack.pixels(msg["image"], msg["boxes"], msg["file"]))
            elif cmd == "scoreRaw":
                reply(stack.score_raw(msg["file"], msg["dims"], msg["question"]))
            elif cmd == "variants":
                reply(variants(msg["dir"]))
            else:
                reply({"error": f"unknown command {cmd}"})
        except Exception as err:  # reported to the bench, which fails with it
            reply({"error": f"{type(err).__name__}: {err}"})


if __name__ == "__main__":
    main()
