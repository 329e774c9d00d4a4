"""The catalogue index: FAISS neighbours, a pickle-free UMAP map and anomaly scores per model.

:mod:`engine.index.catalog_build` builds and queries catalogue folders; the pieces it uses
(:mod:`engine.vectors`, :mod:`~engine.index.umap_map`, :mod:`~engine.index.anomaly`)
work on plain embedding matrices and can be used alone.
"""
