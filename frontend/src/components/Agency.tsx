// Agency codes and officer names sit in <bdi>, so a Latin code inside Urdu text
// (or an Urdu name inside English) never reorders its surroundings.

export function AgencyChip({ code, state }: { code: string; state?: string }) {
  return (
    <bdi class={`agency-chip${state ? ` ${state}` : ""}`} data-agency={code}>
      {code}
    </bdi>
  );
}

export function Name({ children }: { children: string }) {
  return <bdi class="name">{children}</bdi>;
}
