"""Who may see and change what: the permission rules, link tokens, sign-in mapping, audit log.

Never imports streamlit: the pages resolve who is asking (views/access.py) and ask
:func:`assessment.access.permissions.allowed` before they read or write anything.
"""
