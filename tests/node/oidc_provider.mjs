// A real OpenID Connect provider for the sign-in tests (panva's oidc-provider), on 127.0.0.1.
//
//   node oidc_provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI [GROUPS_JSON]
//
// Its own login form takes any login name: the name is the account, `<name>@example.org`
// its e-mail unless it has an @ already. GROUPS_JSON maps an account to its `groups` claim.
// Prints "ready ISSUER" once it listens; stops on SIGTERM.
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri, groupsJson] = process.argv.slice(2);
const groups = JSON.parse(groupsJson || '{}');
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
  // The identity goes in the ID token itself: Streamlit reads the user from it.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['sign-in-tests-only'] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: id.includes('@') ? id : `${id}@example.org`, email_verified: true,
                 name: id, groups: groups[id] || [] };
      },
    };
  },
});

const server = provider.listen(Number(port), '127.0.0.1', () => console.log(`ready ${issuer}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
