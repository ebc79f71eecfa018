// Sign in, then back to where the officer was (`?next=`). A session that ended
// mid-shift says so; what waits in the outbox is still there afterwards.

import { useEffect, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { ApiError } from "../api/client";
import { signIn } from "../api/endpoints";
import { Field } from "../components/Field";
import { errorText, t } from "../i18n";
import { unsent } from "../realtime/live";
import { loadSession, session } from "./session";

function safeNext(next: string | undefined): string {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/signin") ? next : "/";
}

export function SignIn() {
  const { query, route } = useLocation();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  const expired = session.value.kind === "signed-out" && session.value.expired;
  useEffect(() => heading.current?.focus(), []);

  return (
    <form
      class="sign-in panel"
      data-testid="sign-in"
      onSubmit={(e) => {
        e.preventDefault();
        setBusy(true);
        setProblem(null);
        signIn(username, password)
          .then(async () => {
            await loadSession();
            route(safeNext(query.next), true);
          })
          .catch((error: unknown) => {
            setProblem(error instanceof ApiError ? errorText(error.code === "unauthenticated" ? "bad_credentials" : error.code, error.detail) : t("signIn.failed"));
          })
          .finally(() => setBusy(false));
      }}
    >
      <h1 tabIndex={-1} ref={heading}>
        {t("signIn.title")}
      </h1>
      {expired ? (
        <p class="notice" role="status">
          {t("signIn.expired")} {unsent.value > 0 ? t("signIn.unsentKept", { count: unsent.value }) : null}
        </p>
      ) : null}
      <Field label={t("signIn.username")}>
        {(props) => <input {...props} name="username" autocomplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />}
      </Field>
      <Field label={t("signIn.password")}>
        {(props) => (
          <input {...props} name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        )}
      </Field>
      {problem ? (
        <p class="problem" role="alert">
          {problem}
        </p>
      ) : null}
      <button type="submit" class="primary" disabled={busy}>
        {t("signIn.submit")}
      </button>
    </form>
  );
}
