#!/usr/bin/python3
# Builds, with Debian's python3-impacket (a Kerberos implementation independent of MIT's), a service ticket encrypted
# in the service's own key from a keytab (no KDC involved) and an AP-REQ with a fresh authenticator for it, wrapped in
# SPNEGO as Windows sends it (NegTokenInit listing Microsoft's Kerberos OID, the GSS token of RFC 4121 §4.1 as
# mechToken). Tickets MIT's initiator will not present (an expired one) or the KDC will not issue (another realm's
# client) can then reach the acceptor. Prints the token in hex on one line.
# argv: KEYTAB SERVICE (e.g. TERMSRV/rdpgw.lab.test) SERVICE_REALM CLIENT CLIENT_REALM END_SECONDS
#   END_SECONDS: the ticket's end time relative to now (negative: expired that long ago).
import datetime
import os
import struct
import sys

from impacket.krb5 import constants
from impacket.krb5.asn1 import AP_REQ, Authenticator, EncTicketPart
from impacket.krb5.crypto import Key, _enctype_table
from impacket.krb5.gssapi import KRB5_AP_REQ, CheckSumField, GSS_C_CONF_FLAG, GSS_C_INTEG_FLAG, \
    GSS_C_MUTUAL_FLAG, GSS_C_REPLAY_FLAG, GSS_C_SEQUENCE_FLAG
from impacket.krb5.keytab import Keytab
from impacket.krb5.types import KerberosTime, Principal
from impacket.spnego import ASN1_AID, ASN1_OID, SPNEGO_NegTokenInit, TypesMech, asn1encode
from pyasn1.codec.der import encoder
from pyasn1.type.univ import noValue


def main():
    keytab, service, service_realm, client, client_realm, end_seconds = sys.argv[1:7]
    entry = Keytab.loadFile(keytab).getKey(service)
    if entry is None:
        sys.exit("no key for %s in %s" % (service, keytab))
    enctype = entry["keytype"]
    service_key = Key(enctype, bytes(entry["keyvalue"]["data"]))
    cipher = _enctype_table[enctype]
    session_key = Key(enctype, os.urandom(len(service_key.contents)))

    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    end = now + datetime.timedelta(seconds=int(end_seconds))
    start = min(now, end) - datetime.timedelta(hours=10)
    client_name = Principal(client, type=constants.PrincipalNameType.NT_PRINCIPAL.value)
    service_name = Principal(service, type=constants.PrincipalNameType.NT_SRV_INST.value)

    # RFC 4120 §5.3: the part of the ticket only the service's key opens.
    part = EncTicketPart()
    part["flags"] = constants.encodeFlags([constants.TicketFlags.forwardable.value, constants.TicketFlags.pre_authent.value])
    part["key"] = noValue
    part["key"]["keytype"] = enctype
    part["key"]["keyvalue"] = session_key.contents
    part["crealm"] = client_realm
    set_name(part, "cname", client_name)
    part["transited"] = noValue
    part["transited"]["tr-type"] = 0
    part["transited"]["contents"] = b""
    part["authtime"] = KerberosTime.to_asn1(start)
    part["starttime"] = KerberosTime.to_asn1(start)
    part["endtime"] = KerberosTime.to_asn1(end)

    request = AP_REQ()
    request["pvno"] = 5
    request["msg-type"] = int(constants.ApplicationTagNumbers.AP_REQ.value)
    request["ap-options"] = constants.encodeFlags([constants.APOptions.mutual_required.value])
    request["ticket"] = noValue
    ticket = request["ticket"]
    ticket["tkt-vno"] = 5
    ticket["realm"] = service_realm
    set_name(ticket, "sname", service_name)
    ticket["enc-part"] = noValue
    ticket["enc-part"]["etype"] = enctype
    ticket["enc-part"]["kvno"] = entry_kvno(keytab, service, enctype)
    # Key usage 2: the ticket's encrypted part, in the service key (RFC 4120 §7.5.1).
    ticket["enc-part"]["cipher"] = cipher.encrypt(service_key, 2, encoder.encode(part), None)

    # RFC 4121 §4.1.1: the authenticator's checksum carries the GSS flags; its time is now (no skew).
    authenticator = Authenticator()
    authenticator["authenticator-vno"] = 5
    authenticator["crealm"] = client_realm
    set_name(authenticator, "cname", client_name)
    authenticator["cusec"] = now.microsecond
    authenticator["ctime"] = KerberosTime.to_asn1(now)
    checksum = CheckSumField()
    checksum["Lgth"] = 16
    checksum["Flags"] = GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_REPLAY_FLAG | GSS_C_MUTUAL_FLAG
    authenticator["cksum"] = noValue
    authenticator["cksum"]["cksumtype"] = 0x8003
    authenticator["cksum"]["checksum"] = checksum.getData()
    authenticator["seq-number"] = struct.unpack(">I", os.urandom(4))[0] & 0x3FFFFFFF

    request["authenticator"] = noValue
    request["authenticator"]["etype"] = enctype
    # Key usage 11: the AP-REQ authenticator, in the session key.
    request["authenticator"]["cipher"] = cipher.encrypt(session_key, 11, encoder.encode(authenticator), None)

    blob = SPNEGO_NegTokenInit()
    blob["MechTypes"] = [TypesMech["MS KRB5 - Microsoft Kerberos 5"], TypesMech["KRB5 - Kerberos 5"]]
    blob["MechToken"] = struct.pack("B", ASN1_AID) + asn1encode(
        struct.pack("B", ASN1_OID) + asn1encode(TypesMech["KRB5 - Kerberos 5"]) + KRB5_AP_REQ + encoder.encode(request))
    print(blob.getData().hex(), flush=True)


def set_name(owner, field, principal):
    """A PrincipalName (RFC 4120 §5.2.2) in the field of owner."""
    owner[field] = noValue
    owner[field]["name-type"] = principal.type
    for i, component in enumerate(principal.components):
        owner[field]["name-string"][i] = component


def entry_kvno(keytab, service, enctype):
    """The key version number of the service's key of this type in the keytab."""
    for entry in Keytab.loadFile(keytab).entries:
        name = entry.main_part["principal"].prettyPrint().decode().split("@")[0]
        if name.upper() == service.upper() and entry.main_part["keyblock"]["keytype"] == enctype:
            return entry.kvno
    return 0


main()
