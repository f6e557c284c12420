FROM python:3.11-slim
WORKDIR /app
# requirements.txt installs this project (editable), so the source must be there first.
COPY . .
RUN pip install --no-cache-dir -r requirements.txt
EXPOSE 8501
# Migrates on start; loads the demo world only into an empty database.
CMD ["python", "-m", "demetra", "serve", "--demo", "--address", "0.0.0.0", "--port", "8501"]
