"""Push-to-talk voice: talkgroups, floor control, signaling and media relay.

Pure cores of the control plane (no I/O, no clock: ``now`` is always an argument):

- `ptt.talkgroup`: identities, roles, rights, talkgroups, and the roster of who hears what.
- `ptt.floor`: floor control of one talkgroup or patch (3GPP TS 24.380, server side).
- `ptt.control`: the whole control plane (`Radio`), the one object the signaling adapter drives.
- `ptt.events`, `ptt.errors`: what those cores emit and raise.
"""
