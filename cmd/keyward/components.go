package main

// components are the parts serve starts, in order. Each part of keyward that runs
// inside the server (the driver host, SCIM, LDAP) adds one entry here. The driver
// host comes first, so that drivers exist before dispatchers start.
var components = []component{driversComponent, scimComponent, ldapComponent}
