"""Shop connectors: each turns a platform's orders into canonical `Order`s."""
