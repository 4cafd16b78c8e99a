"""Push-to-talk voice: talkgroups, floor control, signaling and media relay."""
