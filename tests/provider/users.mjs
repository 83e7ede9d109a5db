// Test users, API resources and organizations, shaped like Logto's data.

export const RESOURCES = {
  'https://shopping.example.com/api': ['shopping:read', 'shopping:write'],
  'https://store.example.com/api': ['store:read', 'store:write'],
};
export const ORGANIZATIONS_RESOURCE = 'urn:logto:resource:organizations';
export const ORGANIZATIONS_SCOPE = 'urn:logto:scope:organizations';
export const ORGANIZATION_ROLES_SCOPE = 'urn:logto:scope:organization_roles';
export const ORGANIZATION_AUDIENCE_PREFIX = 'urn:logto:organization:';

export const ORGANIZATIONS = {
  'org-acme': { name: 'Acme Corp', description: 'Acme Corporation, makers of everything' },
  'org-globex': { name: 'Globex', description: 'Globex Corporation' },
};
export const ORGANIZATION_ROLES = {
  admin: ['read:members', 'invite:members'],
  member: ['read:members'],
};
export const ALL_ORGANIZATION_SCOPES = [...new Set(Object.values(ORGANIZATION_ROLES).flat())];

const ALL_RESOURCE_SCOPES = Object.values(RESOURCES).flat();

function richUser(sub, username, name, givenName, familyName, email) {
  return {
    sub,
    username,
    name,
    given_name: givenName,
    family_name: familyName,
    picture: `https://avatars.example.com/${username}.png`,
    created_at: 1700000000000,
    updated_at: 1700000500000,
    email,
    email_verified: true,
    phone_number: '+15555550100',
    phone_number_verified: true,
    address: {
      formatted: '1 Rabbit Hole, Wonderland',
      street_address: '1 Rabbit Hole',
      locality: 'Wonderland',
      country: 'GB',
    },
    custom_data: { plan: 'pro' },
    identities: { github: { userId: '123', details: {} } },
    sso_identities: [],
    roles: ['admin'],
    resourceScopes: ALL_RESOURCE_SCOPES,
    organizations: { 'org-acme': 'admin', 'org-globex': 'member' },
  };
}

export const USERS = {
  alice: {
    password: 'alice-password',
    ...richUser('user-alice', 'alice', 'Alice Liddell', 'Alice', 'Liddell', 'alice@example.com'),
  },
  // Bob has the bare minimum, like a fresh Logto user: unset claims are null / false / empty.
  bob: {
    password: 'bob-password',
    sub: 'user-bob',
    username: 'bob',
    name: 'Bob Builder',
    picture: null,
    created_at: 1700001000000,
    updated_at: 1700001000000,
    email: null,
    email_verified: false,
    phone_number: null,
    phone_number_verified: false,
    custom_data: {},
    identities: {},
    sso_identities: [],
    roles: [],
    resourceScopes: ['shopping:read'],
    organizations: {},
  },
  demo: {
    password: 'demo-password',
    ...richUser('user-demo', 'demo', 'Demo User', 'Demo', 'User', 'demo@example.com'),
  },
};

const BY_SUB = new Map(Object.values(USERS).map((user) => [user.sub, user]));

export function userBySub(sub) {
  return BY_SUB.get(sub);
}

export function checkPassword(username, password) {
  const user = Object.hasOwn(USERS, username) ? USERS[username] : undefined;
  return user && user.password === password ? user : undefined;
}

export function isMember(user, organizationId) {
  return !!user && Object.hasOwn(user.organizations, organizationId);
}

export function organizationScopes(user, organizationId) {
  if (!isMember(user, organizationId)) return [];
  return ORGANIZATION_ROLES[user.organizations[organizationId]] ?? [];
}

/** Scopes of `resource` this user may be granted. */
export function allowedResourceScopes(user, resource) {
  if (!user) return [];
  if (resource === ORGANIZATIONS_RESOURCE) {
    return [...new Set(Object.keys(user.organizations).flatMap((id) => organizationScopes(user, id)))];
  }
  return (RESOURCES[resource] ?? []).filter((scope) => user.resourceScopes.includes(scope));
}

/** Every scope the resource server knows, or undefined for an unknown resource. */
export function resourceServerScopes(resource) {
  if (resource === ORGANIZATIONS_RESOURCE) return ALL_ORGANIZATION_SCOPES;
  return RESOURCES[resource];
}

// Claims only the userinfo endpoint returns (as Logto does).
const USERINFO_ONLY = new Set(['custom_data', 'identities', 'sso_identities', 'organization_data']);

export function userClaims(user, use) {
  const organizationIds = Object.keys(user.organizations);
  const claims = {
    sub: user.sub,
    name: user.name,
    username: user.username,
    picture: user.picture,
    created_at: user.created_at,
    updated_at: user.updated_at,
    given_name: user.given_name,
    family_name: user.family_name,
    email: user.email,
    email_verified: user.email_verified,
    phone_number: user.phone_number,
    phone_number_verified: user.phone_number_verified,
    address: user.address,
    custom_data: user.custom_data,
    identities: user.identities,
    sso_identities: user.sso_identities,
    roles: user.roles,
    organizations: organizationIds,
    organization_data: organizationIds.map((id) => ({
      id,
      name: ORGANIZATIONS[id].name,
      description: ORGANIZATIONS[id].description,
    })),
    organization_roles: organizationIds.map((id) => `${id}:${user.organizations[id]}`),
  };
  for (const [name, value] of Object.entries(claims)) {
    if (value === undefined || (use !== 'userinfo' && USERINFO_ONLY.has(name))) {
      delete claims[name];
    }
  }
  return claims;
}

export const SCOPE_CLAIMS = {
  openid: ['sub'],
  profile: [
    'name', 'username', 'picture', 'created_at', 'updated_at', 'given_name', 'family_name',
    'middle_name', 'nickname', 'preferred_username', 'profile', 'website', 'gender', 'birthdate',
    'zoneinfo', 'locale',
  ],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified'],
  address: ['address'],
  custom_data: ['custom_data'],
  identities: ['identities', 'sso_identities'],
  roles: ['roles'],
  [ORGANIZATIONS_SCOPE]: ['organizations', 'organization_data'],
  [ORGANIZATION_ROLES_SCOPE]: ['organization_roles'],
};
