"""Reference data of a border coordination committee.

Agencies, crossing points, which agency is deployed where, and memberships (a
user's role in an agency at the crossing points they serve). Everything other
apps authorize against starts here.
"""
