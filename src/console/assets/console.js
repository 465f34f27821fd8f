// The console's shared progressive enhancement: buttons that copy a value shown once (a registration secret).
// Without script the value is still on the page to select by hand; the button shows only when it can work.
for (const button of document.querySelectorAll('button[data-copy]')) {
  const target = document.getElementById(button.dataset.copy);
  const status = document.getElementById(`${button.dataset.copy}-copied`);
  if (!target || !navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(target.textContent.trim());
      if (status) status.textContent = 'Copied.';
    } catch {
      if (status) status.textContent = 'Could not copy: select the value and copy it by hand.';
    }
  });
}
