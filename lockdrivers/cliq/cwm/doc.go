// Package cwm is a client for CLIQ Web Manager (CWM), the server of ASSA ABLOY
// CLIQ and ABLOY PROTEC2 CLIQ installations.
//
// CWM speaks SOAP 1.1 over HTTPS and authenticates integrations with a client
// certificate (a PKCS#12 file and its passphrase). The client has two halves,
// deliberately kept apart:
//
//   - [Client] query methods (GetPersons, GetKeysForPerson, GetKeyDetails,
//     GetAuditTrails) speak the CWM Web Services query API v2 with the
//     operation names, namespace and element qualification seen in public
//     code that talks to a real CWM. Child elements of the response records
//     beyond those seen there are decoded when present and ignored otherwise.
//   - [Management] is everything else a driver needs: writes (hand out / in,
//     report lost, validity, schedule, revalidation, access, blacklisting,
//     persons) and the reads the public query API does not show (cylinders,
//     groups, access profiles, programming jobs, key state). No public source
//     names these operations; they are an ASSUMPTION modelled on public
//     descriptions (Genetec's ASSA ABLOY CLIQ plugin guide, CWM user manuals)
//     and served by the simulator in package sim. [AssumedManagement] is the
//     only implementation; replacing it with one generated from ASSA ABLOY's
//     real WSDL is the single change needed once that WSDL is available.
//
// Errors are *Error values carrying the operation name and a [Kind], so that a
// caller can branch on NotFound, Invalid, Permission, Transient, Conflict or
// Capacity without reading messages.
package cwm
