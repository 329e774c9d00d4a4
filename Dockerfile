# catscope web app on the shipped sample catalogue and models (CPU).
# Build: docker build -t catscope .   Run: docker run -p 5006:5006 catscope
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg
RUN apt-get update && apt-get install -y --no-install-recommends make g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/catscope
COPY . .
# CPU build of PyTorch from the PyTorch index, then catscope with its pinned dependencies.
RUN make setup PYTHON=python3.11 \
    TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
EXPOSE 5006
CMD [".venv/bin/catscope", "serve", "--port", "5006", "--address", "0.0.0.0", "--no-show"]
