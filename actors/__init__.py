"""Pykka actors. One `ProjectActor` per project applies that project's state changes serially;
`ProjectActors` starts them on first use, replaces crashed ones and stops idle ones."""
