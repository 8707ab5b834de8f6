"""gunicorn reads this file from the working directory, so the Procfile's `web:` line stays plain.

Threads matter: webhook bursts (status callbacks, one-tap answers) spend most of their time waiting
on the database; 2 sync workers measured 113 req/s, 2 workers × 4 threads over 300 (README).
"""
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = 60
# Access logs carry one-tap tokens in paths; keep them off by default (no personal data in logs).
accesslog = None
