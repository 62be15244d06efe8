"""Settings for the demo application.

PLANTED FAKE SECRETS: every credential-looking value in this file was generated at random for the
Certus-Assurance demo. None of them is, or ever was, a real credential.
"""

DEBUG = True

# Fake AWS key pair (random, planted for the secrets scanner).
AWS_ACCESS_KEY_ID = "AKIABDFWO35RO5MGGD2S"
AWS_SECRET_ACCESS_KEY = "PEfI9RgI4bSwY+KUGLOH++qrEVcdhsVWEyAUAfcF"

# Fake GitHub token (random, planted).
GITHUB_TOKEN = "ghp_A2mhbW6nkTHf7FGXSSYrLS7KGZhFQZ422jOM"

# Fake Slack bot token (random, planted).
SLACK_BOT_TOKEN = "xoxb-979077870379-3824568608551-7OPhPkUCihSSD6UlubGxOFZe"

DATABASE_PASSWORD = "changeme"  # a weak default, also planted
