"""The ingest baseline: a bare Starlette endpoint that reads the form and answers 200, stores nothing."""

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def receive(request: Request) -> JSONResponse:
    form = await request.form()
    return JSONResponse({"message": "Message Accepted", "from": form.get("from")})


app = Starlette(routes=[Route("/c/{channel}/{action}", receive, methods=["GET", "POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
