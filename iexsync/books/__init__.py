"""Books connectors: each writes canonical `Document`s into one accounting system."""
