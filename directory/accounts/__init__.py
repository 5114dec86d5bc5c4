"""Users, sign-in, memberships, roles and the permission decisions."""
