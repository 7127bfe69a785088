# Read by the `flask` CLI in this checkout (python-dotenv): use the settings `make run`
# generated under instance/. Production runs gunicorn, which never reads this file.
SECURESTORE_ENV=development
