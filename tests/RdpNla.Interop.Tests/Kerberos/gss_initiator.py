#!/usr/bin/python3
# An independent GSS-API initiator for the tests: python3-gssapi over the system MIT krb5, driven line by line on
# stdin ("step HEX", "wrap HEX", "unwrap HEX", "mic HEX", "verifymic MESSAGEHEX:MICHEX"); answers "continue HEX",
# "complete HEX", "data HEX" or "error TEXT".
# argv: MECH (spnego | krb5) TARGET (service/host@REALM). Tickets come from KRB5CCNAME, the realm from KRB5_CONFIG.
import sys

import gssapi

MECHS = {"spnego": "1.3.6.1.5.5.2", "krb5": "1.2.840.113554.1.2.2"}
FLAGS = [gssapi.RequirementFlag.mutual_authentication, gssapi.RequirementFlag.replay_detection,
         gssapi.RequirementFlag.out_of_sequence_detection, gssapi.RequirementFlag.confidentiality,
         gssapi.RequirementFlag.integrity]


def main():
    mech = gssapi.OID.from_int_seq(MECHS[sys.argv[1]])
    target = gssapi.Name(sys.argv[2], gssapi.NameType.kerberos_principal)
    context = gssapi.SecurityContext(name=target, mech=mech, usage="initiate", flags=FLAGS)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        data = bytes.fromhex(argument) if argument and command != "verifymic" else None
        try:
            if command == "step":
                token = context.step(data) or b""
                answer = ("complete " if context.complete else "continue ") + token.hex()
            elif command == "wrap":
                answer = "data " + context.wrap(data or b"", True).message.hex()
            elif command == "unwrap":
                result = context.unwrap(data or b"")
                answer = "data " + result.message.hex() if result.encrypted else "error not sealed"
            elif command == "mic":
                answer = "data " + context.get_signature(data or b"").hex()
            elif command == "verifymic":
                message, _, mic = argument.partition(":")
                context.verify_signature(bytes.fromhex(message), bytes.fromhex(mic))
                answer = "data "
            else:
                answer = "error unknown command " + command
        except gssapi.exceptions.GSSError as error:
            answer = "error " + str(error).replace("\n", " ")
        print(answer, flush=True)


main()
