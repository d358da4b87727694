"""Server-rendered pages (Jinja2 + htmx): the public booking pages, the customer's manage page
and the admin. They call the same use cases as the API; everything they do is also in the API.
"""
