"""Warm referrals: consent, the hand-off between two organizations, and the closed loop."""
