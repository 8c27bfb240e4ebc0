"""The contract: what a conformant deployment promises. The OpenAPI document (openapi.py), the requirement
catalogue with the level and grounds of each requirement (catalogue.py), and the vocabulary of a call
object (calls.py). Every other layer reads it; it reads none of them."""
