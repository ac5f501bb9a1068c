"""Email verification, ending sessions, and idempotency records that hold no secret.

- `users.email_verified` and `users.token_generation` (docs/roles.md "Sessions and sign-in");
  accounts that signed in with Google have had their address proven by Google already.
- `email_verification_tokens`: single-use, stored as SHA-256 hashes like reset tokens.
- Answers that carried a secret key and were kept for an `Idempotency-Key` before this version
  are emptied (a replay of them now answers 409, docs/api.md "Idempotency").
"""
from store.migrations import add_columns
from store.models import EmailVerificationToken, IdempotencyKey, User


def up(db):
    add_columns(User, "email_verified", "token_generation")
    db.create_tables([EmailVerificationToken], safe=True)
    User.update(email_verified=True).where(User.google_sub.is_null(False)).execute()
    (IdempotencyKey.update(state="withheld", response_body=None, response_status=None)
     .where(IdempotencyKey.response_body.contains("sk_live_")).execute())
