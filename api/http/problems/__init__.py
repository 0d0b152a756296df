"""Every error as RFC 9457 ``application/problem+json``, from one table of errors.

``table``: each error class's status and title, and the catalogue of problem types;
``answers``: a problem response; ``validation``: request validation errors in the body's
terms; ``handlers``: the exception handlers; ``openapi``: the document says what is sent.
"""
