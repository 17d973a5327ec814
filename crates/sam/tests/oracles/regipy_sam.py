"""Oracle: what regipy's SAM and SYSTEM plugins read from a hive pair, as JSON.

Usage: regipy_sam.py SAM [SYSTEM]
Prints {"sam": {"machine_sid", "users": [{rid, flags, login_count, password_last_set}]},
        "system": {"bootkey", "computer_name"}}.
"""
import json
import sys

from regipy.registry import RegistryHive
from regipy.plugins.sam.local_sid import LocalSidPlugin
from regipy.plugins.sam.samparse import SAMParsePlugin
from regipy.plugins.system.bootkey import BootKeyPlugin
from regipy.plugins.system.computer_name import ComputerNamePlugin


def run(plugin_class, hive):
    plugin = plugin_class(hive, as_json=True)
    plugin.run()
    return plugin.entries


out = {}
sam = RegistryHive(sys.argv[1])
sids = run(LocalSidPlugin, sam)
users = run(SAMParsePlugin, sam)
out["sam"] = {
    "hive_type": sam.hive_type,
    "machine_sid": sids[0]["machine_sid"] if sids else None,
    "users": [
        {
            "rid": u["rid"],
            "flags": u["account_flags"],
            "login_count": u["login_count"],
            "password_last_set": u["password_last_set"],
        }
        for u in users
    ],
}
if len(sys.argv) > 2:
    system = RegistryHive(sys.argv[2])
    keys = run(BootKeyPlugin, system)
    names = run(ComputerNamePlugin, system)
    out["system"] = {
        "hive_type": system.hive_type,
        "bootkey": keys[0]["key"] if keys else None,
        "computer_name": names[0]["name"] if names else None,
    }
print(json.dumps(out))
