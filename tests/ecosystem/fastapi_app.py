# tests/ecosystem/fastapi_app.py: the FastAPI pattern, one engine for the whole process
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

engine = create_async_engine("sqlite+aiosqlite:///app.db")
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


async def get_db():  # a FastAPI dependency
    async with SessionLocal() as session:
        yield session
