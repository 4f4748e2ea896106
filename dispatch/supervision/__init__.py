"""督办: supervision notices raised by breaches and acknowledged by the holder's superior."""
