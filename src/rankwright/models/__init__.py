"""Model types: cross-encoders (and, later, generative rerankers) behind one head interface."""
