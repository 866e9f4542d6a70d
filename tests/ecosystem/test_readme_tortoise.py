# tests/ecosystem/test_readme_tortoise.py
import asyncio

import pytest
from tortoise import Tortoise, fields
from tortoise.models import Model
from tortoise.transactions import in_transaction


class Account(Model):
    id = fields.IntField(primary_key=True)
    balance = fields.IntField(default=0)


@pytest.mark.harness
async def test_deposits_add_up(sim):
    await Tortoise.init(db_url="sqlite://bank.db", modules={"models": [__name__]})
    await Tortoise.generate_schemas()
    try:
        await Account.create(id=1)

        async def deposit(amount):
            async with in_transaction():  # Tortoise runs one transaction at a time
                account = await Account.get(id=1)
                account.balance += amount
                await account.save()

        await asyncio.gather(deposit(10), deposit(20))
        assert (await Account.get(id=1)).balance == 30
    finally:
        await Tortoise.close_connections()
