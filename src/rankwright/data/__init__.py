"""Reading, labelling and splitting relevance data."""
