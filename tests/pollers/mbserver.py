"""A pymodbus 3.0 Modbus TCP server for tests, loaded with a register image.

    /usr/bin/python3 mbserver.py IMAGE.json PORT

IMAGE.json: {"UNIT": {"hr": {"ADDR": VALUE, ...}, "ir": {...}}, ...}
(0-based PDU addresses; unset registers read 0). Prints READY when it
listens. zero_mode=True, or every address would be off by one.
"""
import asyncio
import json
import logging
import sys

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.server import StartAsyncTcpServer

logging.disable(logging.CRITICAL)


def block(regs):
    values = [0] * 65536
    for a, v in regs.items():
        values[int(a)] = int(v) & 0xFFFF
    return ModbusSequentialDataBlock(0, values)


def main():
    image = json.load(open(sys.argv[1]))
    port = int(sys.argv[2])
    slaves = {}
    for unit, img in image.items():
        slaves[int(unit)] = ModbusSlaveContext(
            hr=block(img.get("hr", {})), ir=block(img.get("ir", {})),
            di=ModbusSequentialDataBlock(0, [0] * 16), co=ModbusSequentialDataBlock(0, [0] * 16),
            zero_mode=True)
    ctx = ModbusServerContext(slaves=slaves, single=False)

    async def run():
        srv = StartAsyncTcpServer(context=ctx, address=("127.0.0.1", port), defer_start=False)
        task = asyncio.ensure_future(srv)
        await asyncio.sleep(0.3)
        print("READY", flush=True)
        await task

    asyncio.run(run())


if __name__ == "__main__":
    main()
